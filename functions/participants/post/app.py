"""POST /v1/participants: create a participant, or update the one with this external_id."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.participants import ParticipantCreate, ParticipantResponse
from scrip.domain.participants import PROFILE_FIELDS
from scrip.services import participants

endpoint = HttpEndpoint()


@endpoint.router.post(
    "/v1/participants",
    summary="Create or upsert a participant",
    description="201 with the new participant; 200 when a participant with this `external_id` existed and was updated "
    "(profile overwritten, tags replaced, attributes merged, enrollment added).",
    tags=["Participants"],
    responses={200: {"description": "Existing participant updated"}, 201: {"description": "Participant created"}},
)
def upsert_participant(body: ParticipantCreate) -> tuple[ParticipantResponse, int]:
    sent = body.model_dump(exclude_unset=True)
    detail, created = participants.upsert_participant(
        endpoint.caller(),
        external_id=body.external_id,
        program_id=str(body.program_id) if body.program_id else None,
        status=body.status,
        profile={k: v for k, v in sent.items() if k in PROFILE_FIELDS},
        tags=body.tags,
        attributes=body.attributes,
    )
    return ParticipantResponse.of_detail(detail), 201 if created else 200


handler = endpoint.handler
