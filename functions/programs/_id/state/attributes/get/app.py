"""GET /v1/programs/{id}/state/attributes: list the program's attributes."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.list_attributes(endpoint, OwnerKind.PROGRAM)
handler = endpoint.handler
