"""GET /v1/groups/{id}/state/attributes: list the group's attributes."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.list_attributes(endpoint, OwnerKind.GROUP)
handler = endpoint.handler
