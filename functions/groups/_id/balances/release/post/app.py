"""POST /v1/groups/{id}/balances/release: release the group's held balance."""

from scrip.api import balance_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.ledger import EntityType

endpoint = HttpEndpoint()
balance_routes.release(endpoint, EntityType.GROUP)
handler = endpoint.handler
