"""GET /v1/participants/{id}/state/attributes: list the participant's attributes."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.list_attributes(endpoint, OwnerKind.PARTICIPANT)
handler = endpoint.handler
