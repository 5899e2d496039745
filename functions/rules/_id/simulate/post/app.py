"""POST /v1/rules/{id}/simulate: a dry run of a rule against an event payload."""

from typing import Any

from pydantic import BaseModel, Field

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import RequestModel, ResourceId
from scrip.services import rule_simulation

endpoint = HttpEndpoint()


class ParticipantState(RequestModel):
    tags: list[str] = Field(default_factory=list)
    counters: dict[str, float] = Field(default_factory=dict)
    attributes: dict[str, str] = Field(default_factory=dict)


class SimulationRequest(RequestModel):
    event: dict[str, Any] = Field(description="The would-be event_data")
    participant_state: ParticipantState | None = None


class SimulationResponse(BaseModel):
    rule: dict[str, Any]
    evaluation: dict[str, Any] = Field(
        description="matched, status (evaluated or condition_failed), reason (condition_failed only), results "
        "(when matched: each action with its resolved result)"
    )


@endpoint.router.post(
    "/v1/rules/<id>/simulate",
    summary="Simulate a rule",
    description="Nothing is persisted. Status, activity window and budgets are not considered and `now` is the "
    "server's time [inferred]. State projections appear for actions on the event participant only.",
    tags=["Rules"],
)
def simulate_rule(id: ResourceId, body: SimulationRequest) -> SimulationResponse:
    state = body.participant_state.model_dump() if body.participant_state else None
    return SimulationResponse(**rule_simulation.simulate(endpoint.caller(), str(id), body.event, state))


handler = endpoint.handler
