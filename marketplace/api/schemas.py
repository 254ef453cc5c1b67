"""The ledger API's records (pydantic): what the index's queries return and the routes serve.

Each record is defined once, here (its storage is :mod:`marketplace.api.tables`); the field
descriptions document the OpenAPI schema.

Token amounts are decimal strings: they are uint256 on chain and JSON numbers lose precision
past 2^53. Payouts are per round: a round's effective settlement (the arbiter's correction where
it upheld a challenge, else the aggregator's) pays that round only; cumulative payouts are
running sums over the rounds, and entitlements sum the final rounds. Floats that are not finite (an undefined correlation, say) are rendered as null.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

Amount = str
T = TypeVar("T")


class Schema(BaseModel):
    """Base: immutable records, built by keyword (the index) or from dicts (audit results)."""

    model_config = ConfigDict(frozen=True)


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
    arbiter: str
    spec_cid: str
    initial_model_cid: str
    rounds: int
    round_budget: Amount
    min_stake: Amount
    status: str = Field(description="active | ended | cancelled")
    ended_reason: str | None = Field(
        description="completed | settlement-missed | round-not-opened (None while not ended)."
    )
    ended_at: int | None = Field(description="Chain time the task ended (claims close later).")
    created_block: int
    participants: int
    rounds_opened: int
    rounds_settled: int
    rounds_final: int
    allocated: Amount = Field(description="Paid by the final rounds' effective settlements.")
    claimed: Amount
    staked: Amount
    slashed: Amount
    refunded: Amount
    withdrawn: Amount
    forfeited: Amount = Field(description="Aggregator bond forfeited to the requester.")
    validation_cid: str | None = Field(description="Published validation set (audits need it).")


class Fairness(Schema):
    jain: float | None
    gini: float | None
    pearson: float | None = Field(description="Correlation between contribution and reward.")


class Round(Schema):
    round: int
    status: str = Field(description="open | settled | challenged | final")
    outcome: str | None = Field(
        description="How the round became final: unchallenged | rejected | corrected |"
        " no-evidence | arbiter-silent (None while not final)."
    )
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
    total_paid: Amount | None = Field(
        description="Settlement fields are the effective settlement's (the correction, if any)."
    )
    corrected: bool = Field(description="The arbiter upheld a challenge and corrected it.")
    aggregator_report_cid: str | None = Field(description="The aggregator's own report.")
    challenge_deadline: int | None
    settled_block: int | None
    challengers: int
    evidence_revealed: int = Field(description="Challengers that revealed their evidence.")
    arbiter: str | None = Field(description="The arbiter, when it ruled (rejected or corrected).")
    final: bool
    final_at: int | None
    claimed: Amount = Field(description="Claimed against this round's payout root.")
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


class Challenge(Schema):
    challenger: str
    commitment: str = Field(description="The evidence commitment posted with the bond.")
    evidence_cid: str | None = Field(description="The revealed evidence (None until revealed).")
    collected: Amount | None = Field(description="Bond (and bounty share) paid back, if any.")
    block_number: int


class Contribution(Schema):
    participant: str
    status: str = Field(description="accepted | rejected (by the aggregator's screening)")
    num_samples: int
    value: float | None = Field(description="The round's contribution value (None if rejected).")
    round_payout: Amount
    cumulative_payout: Amount = Field(
        description="Payouts of the reported rounds up to and including this one."
    )


class RoundDetail(Schema):
    summary: Round
    commits: list[Commit]
    reveals: list[Reveal]
    slashes: dict[str, Amount]
    challenges: list[Challenge]
    contributions: list[Contribution] = Field(description="From the effective report.")


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
    entitled: Amount = Field(description="Payouts of the final rounds' effective reports.")


class PayoutSeries(Schema):
    address: str
    round_payouts: list[Amount]
    cumulative: list[Amount] = Field(description="Running sums of round_payouts.")
    entitled: Amount = Field(description="Payouts of the final rounds.")
    claimed: Amount


class PayoutsPage(PageOf[PayoutSeries]):
    rounds: list[int] = Field(description="Reported rounds; the series are aligned with them.")
    final_rounds: list[int] = Field(description="The reported rounds that are final.")


class Claim(Schema):
    account: str
    round: int = Field(description="The round claimed (one claim per account and round).")
    amount: Amount
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
    status: str = Field(
        description="ok | mismatch | inherited | unavailable | corrected | challenged | unsettled"
    )
    outcome: str = Field(description="How the round became final ('' while it is not).")
    accuracy: float | None
    total_paid: Amount
    mismatches: list[Finding]
    noise: list[Finding]
    superseded: list[Finding] = Field(
        description="How a corrected round's original settlement differed (not a failure)."
    )
    inherited: list[Finding] = Field(
        default_factory=list,
        description="Differences that follow from an earlier mismatched round's published "
        "valuation state (this round's own computation is consistent with it).",
    )
    unavailable: list[Finding] = Field(
        default_factory=list,
        description="Checks that could not run because data could not be fetched (never a "
        "mismatch).",
    )


class PayoutCheck(Schema):
    account: str
    entitled: Amount
    claimed: Amount


class Audit(Schema):
    task_id: int
    ok: bool
    level: str = Field(
        description="public (chain and content store only) or full (with the validation set)."
    )
    other_level: str = Field(description="What the other level checks, or that every check ran.")
    tolerance: float
    rounds: list[RoundAudit]
    mismatches: list[Finding]
    unavailable: list[Finding] = Field(default_factory=list)
    payouts: list[PayoutCheck]
    version_block: int = Field(description="Block of the task's latest event when audited.")
    cached: bool = Field(description="True when served from the cache (no new task events).")
    duration_s: float


class Problem(Schema):
    detail: str
