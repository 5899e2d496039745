"""GET /v1/participants/{id}/state/counters: list the participant's counters."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.list_counters(endpoint, OwnerKind.PARTICIPANT)
handler = endpoint.handler
