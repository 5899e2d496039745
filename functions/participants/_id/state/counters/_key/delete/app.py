"""DELETE /v1/participants/{id}/state/counters/{key}: delete one of the participant's counters."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.delete_counter(endpoint, OwnerKind.PARTICIPANT)
handler = endpoint.handler
