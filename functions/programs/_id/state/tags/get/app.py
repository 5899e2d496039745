"""GET /v1/programs/{id}/state/tags: list the program's tags."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.list_tags(endpoint, OwnerKind.PROGRAM)
handler = endpoint.handler
