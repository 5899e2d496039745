"""Rule schemas (03 §3)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from scrip.api.schemas.common import RequestModel


class ConditionCheck(RequestModel):
    condition: Annotated[str, StringConstraints(min_length=1)]


class ConditionCheckResult(BaseModel):
    valid: bool
    message: str
    note: str | None = Field(default=None, description="Only on success")
    line: int | None = Field(default=None, description="Where a syntax error is, when known (1-based)")
    column: int | None = None
