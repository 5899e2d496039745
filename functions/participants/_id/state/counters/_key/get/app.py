"""GET /v1/participants/{id}/state/counters/{key}: get one of the participant's counters."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.get_counter(endpoint, OwnerKind.PARTICIPANT)
handler = endpoint.handler
