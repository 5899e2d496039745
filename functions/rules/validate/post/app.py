"""POST /v1/rules/validate: check a CEL condition's syntax."""

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.rules import ConditionCheck, ConditionCheckResult
from scrip.domain.cel_cost import MAX_ITERATIONS
from scrip.services import rules

endpoint = HttpEndpoint()
NOTE = "Validation covers syntax only; field references are not checked against any schema."


@endpoint.router.post(
    "/v1/rules/validate",
    summary="Validate a CEL condition",
    description="Always 200: `valid` says whether it compiles (with the error's position when known). "
    "Expressions are limited to 4,096 characters and 32 levels of nesting, and refused when their worst case may "
    "cost too much to evaluate (comprehensions over large or nested ranges, scans of long lists); an evaluation "
    f"steps through at most {MAX_ITERATIONS} comprehension elements.",
    tags=["Rules"],
)
def validate_condition(body: ConditionCheck) -> ConditionCheckResult:
    endpoint.caller()
    report = rules.validate_condition(body.condition)
    if report.valid:
        return ConditionCheckResult(valid=True, message=report.message, note=NOTE)
    return ConditionCheckResult(valid=False, message=report.message, line=report.line, column=report.column)


handler = endpoint.handler
