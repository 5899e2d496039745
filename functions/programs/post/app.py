"""POST /v1/programs: create a program."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.programs import ProgramCreate, ProgramResponse
from scrip.services import programs

endpoint = HttpEndpoint()


@endpoint.router.post("/v1/programs", status_code=201, summary="Create a program", tags=["Programs"])
def create_program(body: ProgramCreate) -> ProgramResponse:
    program = programs.create_program(endpoint.caller(), **body.model_dump())
    return ProgramResponse.of(program)


handler = endpoint.handler
