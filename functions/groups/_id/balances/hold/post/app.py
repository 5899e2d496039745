"""POST /v1/groups/{id}/balances/hold: hold part of the group's balance."""

from scrip.api import balance_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.ledger import EntityType

endpoint = HttpEndpoint()
balance_routes.hold(endpoint, EntityType.GROUP)
handler = endpoint.handler
