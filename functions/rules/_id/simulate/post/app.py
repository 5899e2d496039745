"""POST /v1/rules/{id}/simulate: a dry run of a rule against an event payload."""

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import RequestModel, ResourceId
from scrip.api.schemas.events import MAX_EVENT_DATA_BYTES, _bounded_object
from scrip.services import rule_simulation

endpoint = HttpEndpoint()


# Rules are costed for what an event can hold (scrip.domain.cel_cost): so is what a simulation reads.
MAX_STATE_ENTRIES = 1000


class TierLevel(RequestModel):
    level: str = Field(min_length=1, max_length=100)
    rank: int = Field(ge=0, le=1_000_000)


class ParticipantState(RequestModel):
    tags: list[str] = Field(default_factory=list, max_length=MAX_STATE_ENTRIES)
    counters: dict[str, float] = Field(default_factory=dict, max_length=MAX_STATE_ENTRIES)
    attributes: dict[str, str] = Field(default_factory=dict, max_length=MAX_STATE_ENTRIES)
    tiers: dict[str, TierLevel] = Field(
        default_factory=dict,
        max_length=MAX_STATE_ENTRIES,
        description="`participant.tiers` (02 §4.11): the level held per tier key of the rule's program",
    )


class SimulationRequest(RequestModel):
    event: Annotated[dict[str, Any], BeforeValidator(_bounded_object)] = Field(
        description=f"The would-be event_data, bounded as an event's (at most {MAX_EVENT_DATA_BYTES} bytes of JSON)"
    )
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
