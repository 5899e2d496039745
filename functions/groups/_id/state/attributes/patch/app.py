"""PATCH /v1/groups/{id}/state/attributes: merge attributes into the group."""

from scrip.api import state_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.state import OwnerKind

endpoint = HttpEndpoint()
state_routes.merge_attributes(endpoint, OwnerKind.GROUP)
handler = endpoint.handler
