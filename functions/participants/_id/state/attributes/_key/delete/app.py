"""DELETE /v1/participants/{id}/state/attributes/{key}: delete one of the participant's attributes."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.delete_attribute(endpoint, OwnerKind.PARTICIPANT)
handler = endpoint.handler
