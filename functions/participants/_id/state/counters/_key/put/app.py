"""PUT /v1/participants/{id}/state/counters/{key}: set one of the participant's counters."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.set_counter(endpoint, OwnerKind.PARTICIPANT)
handler = endpoint.handler
