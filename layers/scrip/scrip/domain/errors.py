"""Errors that carry the API's status and code (01-platform §4.10).

Domain and service code raise these; the API layer renders them. Keeping status and code on the
exception means a new failure is one line where it happens, not a mapping table elsewhere.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def headers(self) -> dict[str, str]:
        """Response headers the failure adds (``Retry-After`` on a 503)."""
        return {}


class ValidationFailed(ApiError):
    status, code = 400, "validation_error"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        reason: str = "invalid",
        expected: str | None = None,
        received: Any = None,
    ) -> None:
        details: dict[str, Any] = {"reason": reason, "message": message}
        if field is not None:
            details["field"] = field
            details["fields"] = [field]
        if expected is not None:
            details["expected"] = expected
        if received is not None:
            details["received"] = received
        super().__init__(message, details=details)


class InvalidScale(ApiError):
    status, code = 400, "invalid_scale"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"


class NotFound(ApiError):
    status, code = 404, "not_found"


class Conflict(ApiError):
    status, code = 409, "conflict"


class IdempotencyConflict(ApiError):
    status, code = 409, "idempotency_conflict"


class PayloadTooLarge(ApiError):
    """What the request asks to store exceeds what one item (400 KB) or transaction (4 MB) holds."""

    status, code = 413, "payload_too_large"


class UnsupportedMediaType(ApiError):
    """A request body in a media type other than ``application/json`` (UTF-8)."""

    status, code = 415, "unsupported_media_type"


class UnprocessableError(ApiError):
    """A well-formed request that the current state refuses (422 with a specific code)."""

    status = 422

    def __init__(self, code: str, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details)
        self.code = code


class ProgramNotActive(UnprocessableError):
    def __init__(self, program_id: str, status: str) -> None:
        super().__init__(
            "program_not_active",
            f"program {program_id} is {status}; the operation requires an ACTIVE program",
            details={"program_id": program_id, "status": status},
        )


class AssetArchived(UnprocessableError):
    def __init__(self, asset_id: str) -> None:
        super().__init__("asset_archived", f"asset {asset_id} is archived")
