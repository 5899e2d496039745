"""GET /v1/programs/{id}/state/counters: list the program's counters."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.list_counters(endpoint, OwnerKind.PROGRAM)
handler = endpoint.handler
