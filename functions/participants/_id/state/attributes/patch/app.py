"""PATCH /v1/participants/{id}/state/attributes: merge attributes into the participant."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.merge_attributes(endpoint, OwnerKind.PARTICIPANT)
handler = endpoint.handler
