"""PATCH /v1/programs/{id}/state/attributes: merge attributes into the program."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.merge_attributes(endpoint, OwnerKind.PROGRAM)
handler = endpoint.handler
