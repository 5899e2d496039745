"""POST /v1/participants/{id}/balances/void-hold: cancel a provisional credit."""

from scrip.api import balance_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.ledger import EntityType

endpoint = HttpEndpoint()
balance_routes.void_hold(endpoint, EntityType.PARTICIPANT)
handler = endpoint.handler
