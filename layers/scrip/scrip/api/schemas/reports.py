"""Report responses (05 §4.1–4.4): ledger summary, program activity, liability and its rollforward.

Amounts are decimal strings at the asset's scale; a program-activity row sums amounts of every
asset of its program as plain decimals (05 §4.2 [inferred]), so it has no single scale.
"""

from __future__ import annotations

from pydantic import ConfigDict, Field

from scrip.api.schemas.common import ApiModel, Pagination
from scrip.domain.ledger import Bucket


def _absent(value: object) -> bool:
    """A field documented as present only in some modes is left out, not sent as null."""
    return value is None


LIABILITY_TEXT = (
    "Liability is the sum of participants' and groups' balances (05 §4) over every bucket (AVAILABLE, HELD and "
    "DEFERRED) [inferred: all buckets are in scope unless `by_bucket` splits them]. A row's program is the "
    "program of the postings it sums: the entry's, or for a lot's expiration or maturity the lot's program "
    "[inferred]; `program_id: null` holds postings without any."
)
OPENING_TEXT = (
    "Liability just before `from`: entries created exactly at `from` belong to the period (`from` and `to` are "
    "both inclusive, decision 19)."
)


class AssetRowFields(ApiModel):
    asset_id: str
    asset_name: str
    asset_symbol: str
    scale: int = Field(description="The asset's decimal precision (0-18); every amount of the row is written at it")


class ReportRowFields(AssetRowFields):
    program_id: str | None = Field(description="Program attribution; null: postings without a program")
    program_name: str | None


class LedgerSummaryRow(AssetRowFields):
    """One asset. `current_balance = total_issued - total_redeemed - total_expired - total_forfeited` exactly."""

    total_issued: str = Field(
        description="Everything added to holders' balances all time but redemptions, expirations and forfeits, net: "
        "credits, less debits, voided holds and issuance returns, plus transfers' and adjustments' net [inferred, "
        "05 §4.1: flows the formula does not name are folded in so that it holds]"
    )
    total_redeemed: str = Field(
        description="Value redeemed by holders all time, net of redemption reversals, and of redeemed value received "
        "(and clawed back) by a redemption target that is itself a holder [inferred]"
    )
    total_expired: str
    total_forfeited: str
    current_balance: str = Field(description="Holders' balances of the asset now (in scope: the program's share)")
    participant_count: int = Field(
        description="Participants whose balance of the asset (any bucket) is not zero now, organization-wide: "
        "a participant's balance is not split by program, so `program_id` and the period do not scope it "
        "[inferred]. Kept from the table's stream: it may trail a posting by a moment."
    )
    opening_balance: str | None = Field(
        default=None, exclude_if=_absent, description=f"Period mode only. {OPENING_TEXT}"
    )
    closing_balance: str | None = Field(
        default=None, exclude_if=_absent, description="Period mode only. Liability at `to`"
    )
    period_issued: str | None = Field(
        default=None, exclude_if=_absent, description="Period mode only. Credits to holders in the period"
    )
    period_redeemed: str | None = Field(
        default=None,
        exclude_if=_absent,
        description="Period mode only. Gross redemptions from holders in the period (reversals not netted)",
    )
    period_expired: str | None = Field(default=None, exclude_if=_absent, description="Period mode only")
    period_forfeited: str | None = Field(default=None, exclude_if=_absent, description="Period mode only")
    other_adjustments_net: str | None = Field(
        default=None,
        exclude_if=_absent,
        description="Period mode only. Every other flow, signed: reversals, debits, voided holds, issuance returns, "
        "redemption receipts and clawbacks, transfers' and adjustments' net. `closing_balance = opening_balance + "
        "period_issued - period_redeemed - period_expired - period_forfeited + other_adjustments_net` exactly.",
    )


class LedgerSummaryResponse(ApiModel):
    data: list[LedgerSummaryRow]
    pagination: Pagination


class ProgramActivityRow(ApiModel):
    program_id: str
    program_name: str
    event_count: int = Field(
        description="Events of the program that reached COMPLETED (processed, whatever they matched), all time or, "
        "with `from`/`to`, those whose processing completed within the period [inferred]"
    )
    journal_count: int = Field(description="Journal entries with a posting attributed to the program, all time")
    total_issued: str = Field(description="Credits to holders via the program, every asset summed (period-scoped)")
    total_redeemed: str = Field(
        description="Gross redemptions from holders via the program, every asset summed (period-scoped) [inferred]"
    )
    unique_participants: int = Field(
        description="Distinct participants ever credited by a CREDIT entry or debited by a REDEMPTION entry of the "
        "program, all time (not period-scoped) [inferred]. Kept from the table's stream."
    )
    last_activity_at: str | None = Field(description="Creation time of the program's latest journal entry")
    asset_count: int = Field(description="Assets linked to the program now")
    reward_count: int = Field(description="Rewards of the program's catalog that are not ARCHIVED")
    rule_count: int = Field(description="Rules of the program")
    tier_count: int = Field(description="Tiers of the program that are not ARCHIVED")


class ProgramActivityResponse(ApiModel):
    data: list[ProgramActivityRow]
    pagination: Pagination


class LiabilityRow(ReportRowFields):
    balance: str
    bucket: Bucket | None = Field(default=None, exclude_if=_absent, description="Present only with `by_bucket=true`")


class LiabilityResponse(ApiModel):
    as_of: str = Field(description="The `as_of` asked for, or the server time used when it was omitted")
    data: list[LiabilityRow]
    pagination: Pagination


class RollforwardRow(ReportRowFields):
    """`closing_balance - opening_balance = issued - issuance_returns - redeemed + redemption_reversals +
    redemption_receipts - reversal_clawbacks - forfeited - expired - debited - holds_voided + transfers_net +
    adjustments_net + bucket_movements_net`, exactly (05 §4.4's sign convention [inferred]: outflow lines are
    positive magnitudes and subtracted, inflow lines positive and added, `*_net` lines signed and added)."""

    opening_balance: str = Field(description=OPENING_TEXT)
    issued: str = Field(description="Inflow: CREDIT entries to holders")
    issuance_returns: str = Field(
        description="Outflow: value returned from holders to the issuance source [inferred]. No operation of this "
        "API returns issued value that way (a debit is `debited`, a voided hold `holds_voided`): always 0 here."
    )
    redeemed: str = Field(description="Outflow: gross redemptions from holders")
    redemption_reversals: str = Field(description="Inflow: value given back to redeemers by reversals")
    redemption_receipts: str = Field(description="Inflow: redeemed value received by a target that is itself a holder")
    reversal_clawbacks: str = Field(description="Outflow: value taken back from such a target by reversals")
    forfeited: str = Field(description="Outflow: explicit forfeits")
    expired: str = Field(description="Outflow: lot expirations")
    debited: str = Field(description="Outflow: DEBIT entries (rules and adjustments)")
    holds_voided: str = Field(description="Outflow: HELD credits voided back to their source")
    transfers_net: str = Field(description="Signed: transfers' net effect on the row")
    adjustments_net: str = Field(description="Signed: manual adjustments not named above; always 0 here [inferred]")
    bucket_movements_net: str = Field(
        description="Signed: holds, releases and maturities between buckets; 0 since every bucket is in scope"
    )
    closing_balance: str = Field(description="Liability at `to` (equals `liability?as_of=<to>`)")


class RollforwardResponse(ApiModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_: str = Field(alias="from")
    to: str
    data: list[RollforwardRow]
    pagination: Pagination


EXPIRATION_TEXT = (
    "Outstanding value is the `remaining` of lots in AVAILABLE, HELD and DEFERRED (04 §8.10 [inferred]): a hold or "
    "a deferral does not change when a lot expires. Lots are placed by their `expires_at` instant; buckets are "
    "calendar-aligned in UTC (days start at midnight, weeks on Monday, months on the 1st) [inferred], and "
    "`bucket_end` is exclusive."
)


class ExpirationBucket(ApiModel):
    bucket_start: str = Field(description="Inclusive; the first bucket starts at or before `from`")
    bucket_end: str = Field(description="Exclusive; the last bucket ends after `to`")
    amount: str = Field(
        description="Outstanding value of lots whose `expires_at` lies in the bucket and inside the window: the "
        "first and last buckets count only lots expiring at or after `from` and at or before `to` [inferred]"
    )
    lot_count: int = Field(description="Lots with outstanding value counted in `amount`")


class ExpirationScheduleRow(AssetRowFields):
    """One LOT asset. `sum(buckets[].amount) + never_expiring + expiring_before_window + expiring_after_window =
    total_outstanding` exactly."""

    total_outstanding: str = Field(
        description="Outstanding value of every lot of the asset (with `program_id`: of the lots the program credited)"
    )
    never_expiring: str = Field(description="Outstanding value of lots without `expires_at`")
    expiring_before_window: str = Field(
        description="Outstanding value of lots whose `expires_at` is before `from` [inferred]: lots past their expiry "
        "that the expiry job has not reached yet, or due between now and a future `from`"
    )
    expiring_after_window: str = Field(description="Outstanding value of lots whose `expires_at` is after `to`")
    buckets: list[ExpirationBucket] = Field(
        description="Every bucket of the window in time order, empty ones included (`amount` 0, `lot_count` 0)"
    )


class ExpirationScheduleResponse(ApiModel):
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    from_: str = Field(alias="from")
    to: str
    granularity: str
    data: list[ExpirationScheduleRow]
    pagination: Pagination
