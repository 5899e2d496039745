"""DELETE /v1/programs/{id}/state/attributes/{key}: delete one of the program's attributes."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.delete_attribute(endpoint, OwnerKind.PROGRAM)
handler = endpoint.handler
