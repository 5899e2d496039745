"""PUT /v1/participants/{id}/state/tags: replace all of the participant's tags."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.replace_tags(endpoint, OwnerKind.PARTICIPANT)
handler = endpoint.handler
