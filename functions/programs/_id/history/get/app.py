"""GET /v1/programs/{id}/history: funds, burns and credit draws of the program wallet."""

from scrip.api import history_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.ledger import EntityType

endpoint = HttpEndpoint()
history_routes.history(endpoint, EntityType.PROGRAM)
handler = endpoint.handler
