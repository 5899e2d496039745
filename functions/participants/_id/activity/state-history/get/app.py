"""GET /v1/participants/{id}/activity/state-history: the participant's state history."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.state_history(endpoint, OwnerKind.PARTICIPANT)
handler = endpoint.handler
