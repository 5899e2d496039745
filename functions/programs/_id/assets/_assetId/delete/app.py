"""DELETE /v1/programs/{id}/assets/{assetId}: unlink an asset from the program."""

from aws_lambda_powertools.event_handler.api_gateway import Response

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.services import assets

endpoint = HttpEndpoint()


@endpoint.router.delete(
    "/v1/programs/<id>/assets/<assetId>",
    status_code=204,
    summary="Unlink an asset from a program",
    description="Only while the link is unused (01 §6.7): ledger entries of the asset in the program, a rule of "
    "the program (not archived) naming the asset in an action or budget, or the asset having no other program "
    "(kept: link the new program first) → 409 conflict with `details.reason` `ledger_entries_exist`, "
    "`rules_reference_asset` (with `rule_ids`) or `last_program`. Unknown program or asset, or not linked → "
    "404 not_found. Balances are untouched: an unused link has none in the program.",
    tags=["Programs"],
)
def unlink_asset(id: ResourceId, assetId: ResourceId) -> None:
    assets.unlink_asset(endpoint.caller(), str(id), str(assetId))
    return Response(status_code=204)  # type: ignore[return-value]


handler = endpoint.handler
