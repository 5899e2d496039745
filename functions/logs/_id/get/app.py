"""GET /v1/logs/{id}: one request log with its bodies, redacted (05 §4.8)."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.logs import RequestLogDetailResponse
from scrip.services import request_logs

endpoint = HttpEndpoint()


@endpoint.router.get(
    "/v1/logs/<id>",
    summary="Get a request log",
    description="The list fields plus ip_address, user_agent and the request and response bodies. The id is the "
    "request id as a UUID, so `req_0123…` is the log `01234567-89ab-…`.",
    tags=["Reports"],
)
def get_log(id: ResourceId) -> RequestLogDetailResponse:
    return RequestLogDetailResponse.of(request_logs.get_log(endpoint.caller(), str(id)))


handler = endpoint.handler
