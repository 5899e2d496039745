"""POST /v1/programs/{id}/assets/{assetId}/burn: burn a PREFUNDED program wallet."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.ledger import WalletRequest, WalletResponse
from scrip.services import balances

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/programs/<id>/assets/<assetId>/burn",
    summary="Burn a program wallet",
    description="program wallet → SYSTEM_BREAKAGE; more than the wallet holds is 422 insufficient_balance. "
    "On an UNLIMITED asset it is a 200 no-op with journal_entry_id null (decision 18).",
    tags=["Programs"],
)
def burn_wallet(id: ResourceId, assetId: ResourceId, body: WalletRequest) -> WalletResponse:
    result = balances.fund_or_burn(
        endpoint.caller(), str(id), str(assetId), burn=True, amount=body.amount, description=body.description
    )
    return WalletResponse.of(result, "Program balance burned successfully")


handler = endpoint.handler
