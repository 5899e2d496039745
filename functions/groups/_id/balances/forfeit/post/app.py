"""POST /v1/groups/{id}/balances/forfeit: forfeit part of the group's balance."""

from scrip.api import balance_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.ledger import EntityType

endpoint = HttpEndpoint()
balance_routes.forfeit(endpoint, EntityType.GROUP)
handler = endpoint.handler
