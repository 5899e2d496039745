"""POST /v1/participants/{id}/balances/release: release the participant's held balance."""

from scrip.api import balance_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.ledger import EntityType

endpoint = HttpEndpoint()
balance_routes.release(endpoint, EntityType.PARTICIPANT)
handler = endpoint.handler
