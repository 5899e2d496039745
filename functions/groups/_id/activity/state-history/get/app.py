"""GET /v1/groups/{id}/activity/state-history: the group's state history."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.state_history(endpoint, OwnerKind.GROUP)
handler = endpoint.handler
