"""The state endpoints, one per operation, for each kind of owner (02 §2, §3.6.11, 01 §6.8).

Participants, groups and programs expose the same tag, counter and attribute operations under
their own path. Each handler module in ``functions/`` registers exactly one of these routes
for one owner kind, so the code of an operation is written once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from scrip.api.endpoint import HttpEndpoint
from scrip.api.schemas.common import Cursor, Limit, ListResponse, ResourceId
from scrip.api.schemas.state import (
    AttributeItem,
    AttributeSet,
    AttributesMerge,
    AttributesResponse,
    CounterResponse,
    CounterSet,
    StateChangeResponse,
    TagItem,
    TagsReplace,
    TagsResponse,
)
from scrip.domain.state import Operation, Owner, OwnerKind, StateType
from scrip.services import state

COLLECTIONS = {OwnerKind.PARTICIPANT: "participants", OwnerKind.GROUP: "groups", OwnerKind.PROGRAM: "programs"}
TAGS = {
    OwnerKind.PARTICIPANT: ["Participant state"],
    OwnerKind.GROUP: ["Group state"],
    OwnerKind.PROGRAM: ["Program state"],
}
Key = Annotated[str, Path(min_length=1, max_length=255)]
HistoryLimit = Annotated[int, Query(ge=1, le=100, description="Page size, 1-100 (default 50)")]


def _base(kind: OwnerKind) -> str:
    return f"/v1/{COLLECTIONS[kind]}/<id>"


def _noun(kind: OwnerKind) -> str:
    return kind.value.lower()


def list_tags(endpoint: HttpEndpoint, kind: OwnerKind) -> None:
    @endpoint.router.get(f"{_base(kind)}/state/tags", summary=f"List a {_noun(kind)}'s tags", tags=TAGS[kind])
    def list_tags_route(id: ResourceId, limit: Limit = 50, cursor: Cursor = None) -> ListResponse[TagItem]:
        page = state.list_tags(endpoint.caller(), Owner(kind, str(id)), limit=limit, cursor=cursor)
        return ListResponse.of(page, [TagItem(tag=t) for t in page.items])


def replace_tags(endpoint: HttpEndpoint, kind: OwnerKind) -> None:
    @endpoint.router.put(
        f"{_base(kind)}/state/tags",
        summary=f"Replace all of a {_noun(kind)}'s tags",
        description="Bulk sync: tags not listed are removed. "
        f"At most {state.MAX_CHANGES_PER_REQUEST} tags may change per request.",
        tags=TAGS[kind],
    )
    def replace_tags_route(id: ResourceId, body: TagsReplace) -> TagsResponse:
        return TagsResponse(tags=state.replace_tags(endpoint.caller(), Owner(kind, str(id)), body.tags))


def add_tag(endpoint: HttpEndpoint, kind: OwnerKind) -> None:
    @endpoint.router.put(
        f"{_base(kind)}/state/tags/<tag>",
        summary=f"Add a tag to a {_noun(kind)}",
        description="Lower-cased and idempotent: 201 when the tag is new, 200 when it was already there.",
        tags=TAGS[kind],
        responses={200: {"description": "Already tagged"}, 201: {"description": "Tag added"}},
    )
    def add_tag_route(id: ResourceId, tag: Key) -> tuple[TagItem, int]:
        added, created = state.add_tag(endpoint.caller(), Owner(kind, str(id)), tag)
        return TagItem(tag=added), 201 if created else 200


def remove_tag(endpoint: HttpEndpoint, kind: OwnerKind) -> None:
    @endpoint.router.delete(
        f"{_base(kind)}/state/tags/<tag>",
        status_code=204,
        summary=f"Remove a tag from a {_noun(kind)}",
        description="Case-insensitive; removing an absent tag succeeds.",
        tags=TAGS[kind],
    )
    def remove_tag_route(id: ResourceId, tag: Key) -> None:
        state.remove_tag(endpoint.caller(), Owner(kind, str(id)), tag)
        return Response(status_code=204)  # type: ignore[return-value]


def list_counters(endpoint: HttpEndpoint, kind: OwnerKind) -> None:
    with_reset = kind is not OwnerKind.GROUP  # 02 §3.6.11: groups show reset settings per counter only

    @endpoint.router.get(f"{_base(kind)}/state/counters", summary=f"List a {_noun(kind)}'s counters", tags=TAGS[kind])
    def list_counters_route(id: ResourceId, limit: Limit = 50, cursor: Cursor = None) -> ListResponse[CounterResponse]:
        page = state.list_counters(endpoint.caller(), Owner(kind, str(id)), limit=limit, cursor=cursor)
        return ListResponse.of(page, [CounterResponse.of(c, with_reset=with_reset) for c in page.items])


def get_counter(endpoint: HttpEndpoint, kind: OwnerKind) -> None:
    @endpoint.router.get(
        f"{_base(kind)}/state/counters/<key>",
        summary=f"Get one of a {_noun(kind)}'s counters",
        description="The effective value: 0 once the auto-reset window has elapsed. Unknown key → 404.",
        tags=TAGS[kind],
    )
    def get_counter_route(id: ResourceId, key: Key) -> CounterResponse:
        return CounterResponse.of(state.get_counter(endpoint.caller(), Owner(kind, str(id)), key))


def set_counter(endpoint: HttpEndpoint, kind: OwnerKind) -> None:
    @endpoint.router.put(
        f"{_base(kind)}/state/counters/<key>",
        summary=f"Set one of a {_noun(kind)}'s counters",
        description="Absolute set (creates the counter if missing) that restarts the reset window.",
        tags=TAGS[kind],
    )
    def set_counter_route(id: ResourceId, key: Key, body: CounterSet) -> CounterResponse:
        fields = body.model_dump(exclude_unset=True)
        owner = Owner(kind, str(id))
        if "reset_after" in fields:
            counter = state.set_counter(endpoint.caller(), owner, key, body.value, body.reset_after or "")
        else:
            counter = state.set_counter(endpoint.caller(), owner, key, body.value)
        return CounterResponse.of(counter)


def delete_counter(endpoint: HttpEndpoint, kind: OwnerKind) -> None:
    @endpoint.router.delete(
        f"{_base(kind)}/state/counters/<key>",
        status_code=204,
        summary=f"Delete one of a {_noun(kind)}'s counters",
        description="Removes it entirely (a later increment starts from 0); deleting a missing counter succeeds.",
        tags=TAGS[kind],
    )
    def delete_counter_route(id: ResourceId, key: Key) -> None:
        state.delete_counter(endpoint.caller(), Owner(kind, str(id)), key)
        return Response(status_code=204)  # type: ignore[return-value]


def list_attributes(endpoint: HttpEndpoint, kind: OwnerKind) -> None:
    @endpoint.router.get(
        f"{_base(kind)}/state/attributes", summary=f"List a {_noun(kind)}'s attributes", tags=TAGS[kind]
    )
    def list_attributes_route(id: ResourceId, limit: Limit = 50, cursor: Cursor = None) -> ListResponse[AttributeItem]:
        page = state.list_attributes(endpoint.caller(), Owner(kind, str(id)), limit=limit, cursor=cursor)
        return ListResponse.of(page, [AttributeItem(key=k, value=v) for k, v in page.items])


def merge_attributes(endpoint: HttpEndpoint, kind: OwnerKind) -> None:
    @endpoint.router.patch(
        f"{_base(kind)}/state/attributes",
        summary=f"Merge attributes into a {_noun(kind)}",
        description="Listed keys are set, others kept; answers the full merged map.",
        tags=TAGS[kind],
    )
    def merge_attributes_route(id: ResourceId, body: AttributesMerge) -> AttributesResponse:
        merged = state.merge_attributes(endpoint.caller(), Owner(kind, str(id)), body.attributes)
        return AttributesResponse(attributes=dict(sorted(merged.items())))


def set_attribute(endpoint: HttpEndpoint, kind: OwnerKind) -> None:
    @endpoint.router.put(
        f"{_base(kind)}/state/attributes/<key>", summary=f"Set one of a {_noun(kind)}'s attributes", tags=TAGS[kind]
    )
    def set_attribute_route(id: ResourceId, key: Key, body: AttributeSet) -> AttributeItem:
        saved_key, value = state.set_attribute(endpoint.caller(), Owner(kind, str(id)), key, body.value)
        return AttributeItem(key=saved_key, value=value)


def delete_attribute(endpoint: HttpEndpoint, kind: OwnerKind) -> None:
    @endpoint.router.delete(
        f"{_base(kind)}/state/attributes/<key>",
        status_code=204,
        summary=f"Delete one of a {_noun(kind)}'s attributes",
        description="Deleting a missing attribute succeeds.",
        tags=TAGS[kind],
    )
    def delete_attribute_route(id: ResourceId, key: Key) -> None:
        state.delete_attribute(endpoint.caller(), Owner(kind, str(id)), key)
        return Response(status_code=204)  # type: ignore[return-value]


def state_history(endpoint: HttpEndpoint, kind: OwnerKind) -> None:
    @endpoint.router.get(
        f"{_base(kind)}/activity/state-history",
        summary=f"A {_noun(kind)}'s state history",
        description="Newest first. `from`/`to` bound `changed_at`, `event_from`/`event_to` the originating "
        "event's time (entries without an event use `changed_at`); both bounds are inclusive.",
        tags=TAGS[kind],
    )
    def state_history_route(
        id: ResourceId,
        limit: HistoryLimit = 50,
        cursor: Cursor = None,
        state_type: Annotated[StateType | None, Query()] = None,
        key: Annotated[str | None, Query(max_length=255)] = None,
        program_id: Annotated[str | None, Query(pattern=r"^[0-9a-fA-F-]{36}$")] = None,
        operation: Annotated[Operation | None, Query()] = None,
        from_: Annotated[datetime | None, Query(alias="from")] = None,
        to: Annotated[datetime | None, Query()] = None,
        event_from: Annotated[datetime | None, Query()] = None,
        event_to: Annotated[datetime | None, Query()] = None,
    ) -> ListResponse[StateChangeResponse]:
        page = state.state_history(
            endpoint.caller(),
            Owner(kind, str(id)),
            limit=limit,
            cursor=cursor,
            state_type=state_type,
            key=key,
            program_id=program_id.lower() if program_id else None,
            operation=operation,
            changed_from=from_,
            changed_to=to,
            event_from=event_from,
            event_to=event_to,
        )
        return ListResponse.of(page, [StateChangeResponse.of(c) for c in page.items])
