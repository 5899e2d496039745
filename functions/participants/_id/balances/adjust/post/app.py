"""POST /v1/participants/{id}/balances/adjust: credit or debit the participant's balance."""

from scrip.api import balance_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.ledger import EntityType

endpoint = HttpEndpoint()
balance_routes.adjust(endpoint, EntityType.PARTICIPANT)
handler = endpoint.handler
