"""POST /v1/participants/{id}/balances/forfeit: forfeit part of the participant's balance."""

from scrip.api import balance_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.ledger import EntityType

endpoint = HttpEndpoint()
balance_routes.forfeit(endpoint, EntityType.PARTICIPANT)
handler = endpoint.handler
