"""GET /v1/participants/{id}/activity/history: the participant's ledger lines, oldest first."""

from scrip.api import history_routes
from scrip.api.endpoint import HttpEndpoint
from scrip.domain.ledger import EntityType

endpoint = HttpEndpoint()
history_routes.history(endpoint, EntityType.PARTICIPANT)
handler = endpoint.handler
