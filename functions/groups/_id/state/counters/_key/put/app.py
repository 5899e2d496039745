"""PUT /v1/groups/{id}/state/counters/{key}: set one of the group's counters."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.set_counter(endpoint, OwnerKind.GROUP)
handler = endpoint.handler
