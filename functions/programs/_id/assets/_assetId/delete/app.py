"""DELETE /v1/programs/{id}/assets/{assetId}: unlink an asset from the program."""

from aws_lambda_powertools.event_handler.api_gateway import Response

from scrip.api.endpoint import HttpEndpoint
from scrip.api.responses import documented
from scrip.api.schemas.common import ResourceId
from scrip.services import assets

endpoint = HttpEndpoint()


@endpoint.router.delete(
    "/v1/programs/<id>/assets/<assetId>",
    status_code=204,
    summary="Unlink an asset from a program",
    description="Only while the link is unused (01 §6.7): the program has posted a ledger entry in the asset, a "
    "rule of the program (not archived) names the asset in an action or budget, a reward of the program (not "
    "archived) is priced in the asset [inferred: it could never be redeemed again; archive it first], or the asset "
    "has no other program (kept: link the new program first) → 409 conflict with `details.reason` "
    "`ledger_entries_exist`, `rules_reference_asset` (with `rule_ids`), `rewards_priced_in_asset` (with "
    "`reward_ids`) or `last_program`. A first posting racing the unlink either commits first (the unlink then "
    "answers 409 ledger_entries_exist) or fails with 422 asset_not_linked: never both. Unknown program or asset, or "
    "not linked → 404 not_found. Balances are untouched: an unused link has none in the program.",
    tags=["Programs"],
    responses=documented(
        {204: "Unlinked"},
        {
            404: "`not_found`: unknown program or asset, or not linked",
            409: "`conflict`, `details.reason`: `ledger_entries_exist`, `rules_reference_asset`, "
            "`rewards_priced_in_asset` or `last_program`",
        },
    ),
)
def unlink_asset(id: ResourceId, assetId: ResourceId) -> None:
    assets.unlink_asset(endpoint.caller(), str(id), str(assetId))
    return Response(status_code=204)  # type: ignore[return-value]


handler = endpoint.handler
