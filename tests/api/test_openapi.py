"""GET /v1/openapi.json and the docs page."""

from __future__ import annotations

from tests.conftest import Api


def test_openapi_document_is_public_and_describes_the_contract(api: Api) -> None:
    response = api.get("/v1/openapi.json", auth=False)
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"]
    create = document["paths"]["/v1/programs"]["post"]
    assert "201" in create["responses"]
    schemas = document["components"]["schemas"]
    assert schemas["ProgramCreate"]["required"] == ["name"]
    assert set(schemas["AssetResponse"]["properties"]) >= {
        "id",
        "symbol",
        "scale",
        "program_ids",
        "max_transaction_amount",
    }
    amount = schemas["AssetCreate"]["properties"]["max_transaction_amount"]
    assert {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?$"}.items() <= next(
        s for s in amount["anyOf"] if s.get("type") == "string"
    ).items()
    parameters = {p["name"]: p for p in document["paths"]["/v1/programs"]["get"]["parameters"]}
    assert parameters["limit"]["schema"]["maximum"] == 200 and parameters["limit"]["schema"]["minimum"] == 1
    assert set(document["components"]["securitySchemes"]) == {"bearer", "apiKey"}


def test_openapi_document_validates_against_the_openapi_31_schema(api: Api) -> None:
    from openapi_spec_validator import validate

    validate(api.get("/v1/openapi.json", auth=False).json())


def test_docs_page_renders_the_document(api: Api) -> None:
    response = api.get("/v1/docs", auth=False)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert 'spec-url="openapi.json"' in response.text
