"""PUT /v1/participants/{id}/state/tags/{tag}: add a tag to the participant."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.add_tag(endpoint, OwnerKind.PARTICIPANT)
handler = endpoint.handler
