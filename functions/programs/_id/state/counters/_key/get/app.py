"""GET /v1/programs/{id}/state/counters/{key}: get one of the program's counters."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.get_counter(endpoint, OwnerKind.PROGRAM)
handler = endpoint.handler
