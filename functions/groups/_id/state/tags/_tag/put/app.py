"""PUT /v1/groups/{id}/state/tags/{tag}: add a tag to the group."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.add_tag(endpoint, OwnerKind.GROUP)
handler = endpoint.handler
