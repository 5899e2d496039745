"""DELETE /v1/participants/{id}/state/tags/{tag}: remove a tag from the participant."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.remove_tag(endpoint, OwnerKind.PARTICIPANT)
handler = endpoint.handler
