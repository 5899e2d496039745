"""The HTTP shape of an idempotent creation (05 §0.1): 201 first, 200 with the same body on a replay.

The first answer is stored in JSON types, as the idempotency record keeps it: the first answer and
its replays are then validated from the same body and serialize byte for byte alike.
"""

from __future__ import annotations

from pydantic import BaseModel

from scrip.domain.idempotency import IdempotentAnswer, StoredResponse


def first_answer(response: BaseModel) -> StoredResponse:
    """What the first request answers, and the idempotency record stores for its replays."""
    return StoredResponse(201, response.model_dump(mode="json"))


def created_or_replayed[M: BaseModel](answer: IdempotentAnswer, model: type[M]) -> tuple[M, int]:
    """The stored body as ``model``, with 201 for the first request and 200 for a replay."""
    return model.model_validate(answer.response.body), 200 if answer.replayed else 201
