"""GET /v1/groups/{id}/state/counters: list the group's counters."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.list_counters(endpoint, OwnerKind.GROUP)
handler = endpoint.handler
