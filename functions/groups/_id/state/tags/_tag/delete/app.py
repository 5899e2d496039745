"""DELETE /v1/groups/{id}/state/tags/{tag}: remove a tag from the group."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.remove_tag(endpoint, OwnerKind.GROUP)
handler = endpoint.handler
