"""Response schemas of the ledger API (pydantic), kept apart from the domain records they render.

Token amounts are decimal strings: they are uint256 on chain and JSON numbers lose precision
past 2^53. Floats that are not finite (an undefined correlation, say) are rendered as null.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

Amount = str
T = TypeVar("T")


class Schema(BaseModel):
    """Base: built from domain dataclasses by attribute."""

    model_config = ConfigDict(from_attributes=True)


class PageOf(Schema, Generic[T]):
    items: list[T]
    total: int = Field(ge=0, description="Number of items across all pages.")
    limit: int
    offset: int


class Health(Schema):
    status: str = Field(description="ok, or degraded when the chain cannot be reached.")
    chain_id: int | None
    marketplace: str | None
    indexed_block: int | None
    head_block: int | None
    lag_blocks: int | None
    events: int
    tasks: int
    last_sync_s_ago: float | None
    last_error: str | None


class Task(Schema):
    task_id: int
    requester: str
    aggregator: str
    spec_cid: str
    initial_model_cid: str
    rounds: int
    round_budget: Amount
    min_stake: Amount
    status: str = Field(description="active | ended | cancelled")
    ended_reason: int | None
    created_block: int
    participants: int
    rounds_opened: int
    rounds_settled: int
    allocated: Amount
    claimed: Amount
    staked: Amount
    slashed: Amount
    refunded: Amount
    withdrawn: Amount
    validation_cid: str | None = Field(description="Published validation set (audits need it).")


class Fairness(Schema):
    jain: float | None
    gini: float | None
    pearson: float | None = Field(description="Correlation between contribution and reward.")


class Round(Schema):
    round: int
    status: str = Field(description="open | settled | challenged | voided | final")
    global_model_cid: str
    opened_block: int
    commit_deadline: int
    reveal_deadline: int
    settle_deadline: int
    commits: int
    reveals: int
    new_global_cid: str | None
    report_cid: str | None
    payout_root: str | None
    total_paid: Amount | None
    challenge_deadline: int | None
    settled_block: int | None
    challenger: str | None
    upheld: bool | None
    final: bool
    accuracy: float | None
    fairness: Fairness | None
    report_cached: bool


class Commit(Schema):
    participant: str
    commitment: str
    block_number: int


class Reveal(Schema):
    participant: str
    cid: str
    sha256: str
    num_samples: int
    block_number: int


class Contribution(Schema):
    participant: str
    status: str = Field(description="accepted | rejected (by the aggregator's screening)")
    num_samples: int
    value: float | None = Field(description="The round's contribution value (None if rejected).")
    round_payout: Amount
    cumulative_payout: Amount


class RoundDetail(Schema):
    summary: Round
    commits: list[Commit]
    reveals: list[Reveal]
    slashes: dict[str, Amount]
    contributions: list[Contribution]


class RoundContributions(Schema):
    round: int
    report_cid: str
    accuracy: float | None
    method: str | None
    fairness: Fairness
    entries: list[Contribution]


class ContributionsPage(PageOf[RoundContributions]):
    participants: list[str] = Field(description="Every participant of the task, address order.")


class Participant(Schema):
    address: str
    stake: Amount
    joined_block: int
    withdrawn: Amount
    slashed: Amount
    claimed: Amount
    entitled: Amount = Field(description="Cumulative payout in the latest valid round report.")


class PayoutSeries(Schema):
    address: str
    round_payouts: list[Amount]
    cumulative: list[Amount]
    entitled: Amount
    claimed: Amount


class PayoutsPage(PageOf[PayoutSeries]):
    rounds: list[int] = Field(description="Reported rounds; the series are aligned with them.")


class Claim(Schema):
    account: str
    amount: Amount
    cumulative: Amount
    block_number: int
    tx_hash: str


class Finding(Schema):
    round: int | None
    field: str
    expected: Any
    found: Any
    reason: str


class RoundAudit(Schema):
    round: int
    status: str = Field(description="ok | mismatch | unavailable | voided | challenged | unsettled")
    accuracy: float | None
    total_paid: Amount
    mismatches: list[Finding]
    noise: list[Finding]


class PayoutCheck(Schema):
    account: str
    entitled: Amount
    claimed: Amount


class Audit(Schema):
    task_id: int
    ok: bool
    tolerance: float
    rounds: list[RoundAudit]
    mismatches: list[Finding]
    payouts: list[PayoutCheck]
    version_block: int = Field(description="Block of the task's latest event when audited.")
    cached: bool = Field(description="True when served from the cache (no new task events).")
    duration_s: float


class Problem(Schema):
    detail: str
