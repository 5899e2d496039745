"""POST /v1/groups/{id}/balances/adjust: credit or debit the group's balance."""

from scrip.api import balance_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.ledger import EntityType

endpoint = HttpEndpoint()
balance_routes.adjust(endpoint, EntityType.GROUP)
handler = endpoint.handler
