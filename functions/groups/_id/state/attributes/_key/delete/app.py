"""DELETE /v1/groups/{id}/state/attributes/{key}: delete one of the group's attributes."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.delete_attribute(endpoint, OwnerKind.GROUP)
handler = endpoint.handler
