"""DELETE /v1/groups/{id}/state/counters/{key}: delete one of the group's counters."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.delete_counter(endpoint, OwnerKind.GROUP)
handler = endpoint.handler
