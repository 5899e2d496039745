"""GET /v1/participants/{id}/state/tags: list the participant's tags."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.list_tags(endpoint, OwnerKind.PARTICIPANT)
handler = endpoint.handler
