"""GET /v1/programs/{id}: get a program (any status)."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import ResourceId
from scrip.api.schemas.programs import ProgramResponse
from scrip.services import programs

endpoint = HttpEndpoint()


@endpoint.router.get("/v1/programs/<id>", summary="Get a program", tags=["Programs"])
def get_program(id: ResourceId) -> ProgramResponse:
    return ProgramResponse.of(programs.get_program(endpoint.caller(), str(id)))


handler = endpoint.handler
