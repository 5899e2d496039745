"""POST /v1/programs/{id}/assets/{assetId}/fund: fund a PREFUNDED program wallet."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.ledger import WalletRequest, WalletResponse
from scrip.services import balances

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/programs/<id>/assets/<assetId>/fund",
    summary="Fund a program wallet",
    description="SYSTEM_ISSUANCE → program wallet. "
    "On an UNLIMITED asset it is a 200 no-op with journal_entry_id null (decision 18).",
    tags=["Programs"],
)
def fund_wallet(id: ResourceId, assetId: ResourceId, body: WalletRequest) -> WalletResponse:
    result = balances.fund_or_burn(
        endpoint.caller(), str(id), str(assetId), burn=False, amount=body.amount, description=body.description
    )
    return WalletResponse.of(result, "Program funded successfully")


handler = endpoint.handler
