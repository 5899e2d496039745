"""GET /v1/groups/{id}/state/tags: list the group's tags."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.list_tags(endpoint, OwnerKind.GROUP)
handler = endpoint.handler
