"""PATCH /v1/programs/{id}: update a program (merge semantics)."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.programs import ProgramResponse, ProgramUpdate
from scrip.services import programs

endpoint = HttpEndpoint()


@endpoint.router.patch("/v1/programs/<id>", summary="Update a program", tags=["Programs"])
def update_program(id: ResourceId, body: ProgramUpdate) -> ProgramResponse:
    changes = body.model_dump(exclude_unset=True)
    return ProgramResponse.of(programs.update_program(endpoint.caller(), str(id), changes))


handler = endpoint.handler
