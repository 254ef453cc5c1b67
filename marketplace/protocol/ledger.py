"""The payout ledger rebuilt from chain events alone (no storage reads): the auditor's view.

`Ledger.from_events` folds a task's events, oldest first, into plain records: the task's
parameters, who staked what, each round's commits, reveals, settlement, challengers and their
evidence, the arbiter's ruling or corrected settlement, how the round became final, its claims,
and every bond, slash, refund and stake withdrawal. The fold is a dispatch table (event name ->
handler, :data:`HANDLERS`); an event without a handler only counts. The service indexes the
same events; the audit checks the ledger against recomputation and the contract's counters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from marketplace.chain.events import ChainEvent
from marketplace.chain.structs import EndReason, Outcome


@dataclass
class Challenger:
    """One challenge of a settlement: bond posted with an evidence commitment, then evidence."""

    commitment: str
    block: int
    evidence_cid: str | None = None  # set once revealed (EvidenceRevealed)
    collected: int | None = None  # what ChallengerPaid paid it back (bond, + share if upheld)


@dataclass
class RoundLedger:
    """One round as the events tell it."""

    round: int
    global_model_cid: str = ""
    opened_block: int = 0
    commit_deadline: int = 0
    reveal_deadline: int = 0
    settle_deadline: int = 0
    commits: dict[str, str] = field(default_factory=dict)  # participant -> commitment
    commit_order: list[str] = field(default_factory=list)  # participants, Committed event order
    reveals: dict[str, dict[str, Any]] = field(default_factory=dict)
    settlement: dict[str, Any] | None = None  # the aggregator's (RoundSettled)
    challengers: dict[str, Challenger] = field(default_factory=dict)
    rejected_by: str | None = None  # the arbiter, when it rejected the challenges
    correction: dict[str, Any] | None = None  # the arbiter's corrected settlement, if upheld
    outcome: Outcome = Outcome.NONE
    final_at: int = 0  # the settlement's effective final time
    slashed: dict[str, int] = field(default_factory=dict)
    claims: dict[str, int] = field(default_factory=dict)  # account -> amount claimed
    bond_forfeited: dict[str, int] | None = None  # {"amount", "to_requester"} (this round)
    anchor_block: int = 0  # block of the round's last open/commit/reveal event (seeds valuation)

    @property
    def final(self) -> bool:
        return self.outcome is not Outcome.NONE

    @property
    def corrected(self) -> bool:
        return self.correction is not None

    @property
    def effective(self) -> dict[str, Any] | None:
        """The settlement that counts: the arbiter's correction where it upheld, else the
        aggregator's. Claims, the next round's model and the audit all follow this one."""
        return self.correction if self.correction is not None else self.settlement

    @property
    def revealed_challengers(self) -> list[str]:
        return [a for a, c in self.challengers.items() if c.evidence_cid is not None]

    @property
    def total_claimed(self) -> int:
        return sum(self.claims.values())


@dataclass
class Ledger:
    """A task's whole history from its events."""

    task_id: int
    requester: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    created_block: int = 0
    stakes: dict[str, int] = field(default_factory=dict)
    rounds: dict[int, RoundLedger] = field(default_factory=dict)
    claims: list[dict[str, Any]] = field(default_factory=list)
    withdrawals: dict[str, int] = field(default_factory=dict)
    slashed_at_withdrawal: dict[str, int] = field(default_factory=dict)  # ParticipantSlashed r 0
    refunds: list[int] = field(default_factory=list)
    cancelled_refund: int | None = None
    ended_reason: EndReason | None = None
    ended_at: int = 0
    allocated: int = 0
    bonds_posted: list[int] = field(default_factory=list)  # the aggregator's bond, per posting
    bonds_returned: list[int] = field(default_factory=list)
    bonds_forfeited: list[dict[str, int]] = field(default_factory=list)
    validation_cid: str | None = None
    events: int = 0

    @classmethod
    def from_events(cls, task_id: int, events: Iterable[ChainEvent]) -> Ledger:
        ledger = cls(task_id=task_id)
        for event in sorted(events, key=lambda e: e.sort_key):
            if event.args.get("task_id") not in (None, task_id):
                continue
            ledger.apply(event)
        return ledger

    def round(self, r: int) -> RoundLedger:
        return self.rounds.setdefault(r, RoundLedger(round=r))

    def apply(self, e: ChainEvent) -> None:
        """Fold one event into the ledger."""
        self.events += 1
        handler = HANDLERS.get(e.name)
        if handler is not None:
            handler(self, e, e.args)

    # -- totals --------------------------------------------------------------------------

    @property
    def escrow(self) -> int:
        return int(self.params.get("rounds", 0)) * int(self.params.get("round_budget", 0))

    @property
    def cancelled(self) -> bool:
        return self.cancelled_refund is not None

    @property
    def claim_deadline(self) -> int | None:
        """When claims close (inclusive): claimWindow after the task ended; None while active."""
        if not self.ended_at:
            return None
        return self.ended_at + int(self.params.get("claim_window", 0))

    @property
    def total_claimed(self) -> int:
        return sum(c["amount"] for c in self.claims)

    @property
    def total_slashed(self) -> int:
        in_rounds = sum(sum(r.slashed.values()) for r in self.rounds.values())
        return in_rounds + sum(self.slashed_at_withdrawal.values())

    @property
    def total_forfeited(self) -> int:
        """Forfeited aggregator bond owed to the requester (all of it on a liveness fault, the
        split's remainder on an upheld challenge)."""
        return sum(f["to_requester"] for f in self.bonds_forfeited)

    @property
    def total_staked(self) -> int:
        return sum(self.stakes.values())

    @property
    def total_withdrawn(self) -> int:
        return sum(self.withdrawals.values())

    @property
    def total_refunded(self) -> int:
        return sum(self.refunds) + (self.cancelled_refund or 0)

    def slashed_of(self, participant: str) -> int:
        """Everything ``participant`` lost: per-round slashes and the one at withdrawal."""
        per_round = sum(r.slashed.get(participant, 0) for r in self.rounds.values())
        return per_round + self.slashed_at_withdrawal.get(participant, 0)

    def settled_rounds(self) -> list[RoundLedger]:
        return [self.rounds[r] for r in sorted(self.rounds) if self.rounds[r].settlement]

    def final_rounds(self) -> list[RoundLedger]:
        return [self.rounds[r] for r in sorted(self.rounds) if self.rounds[r].final]

    def revealed_before(self, r: int) -> set[str]:
        """CIDs revealed in rounds before ``r`` (a reveal of one of them is a stale replay)."""
        return {rev["cid"] for q, rl in self.rounds.items() if q < r for rev in rl.reveals.values()}

    def effective_before(self, r: int) -> RoundLedger | None:
        """The latest round before ``r`` that has a settlement (its effective one counts).

        Rounds are sequential: round r opens only once round r-1 is final, so this is round
        r-1 for any opened round r.
        """
        found = None
        for q in sorted(self.rounds):
            if q < r and self.rounds[q].effective is not None:
                found = self.rounds[q]
        return found


# -- the fold: one handler per event name -------------------------------------------------

Handler = Callable[[Ledger, ChainEvent, dict[str, Any]], None]


def _round_of(ledger: Ledger, a: dict[str, Any]) -> RoundLedger:
    return ledger.round(int(a["round"]))


def _task_created(ledger: Ledger, e: ChainEvent, a: dict[str, Any]) -> None:
    ledger.requester = str(a["requester"])
    ledger.params = dict(a["params"])
    ledger.created_block = e.block_number


def _task_cancelled(ledger: Ledger, e: ChainEvent, a: dict[str, Any]) -> None:
    ledger.cancelled_refund = int(a["refund"])


def _joined(ledger: Ledger, e: ChainEvent, a: dict[str, Any]) -> None:
    ledger.stakes[str(a["participant"])] = int(a["stake"])


def _bond_posted(ledger: Ledger, e: ChainEvent, a: dict[str, Any]) -> None:
    ledger.bonds_posted.append(int(a["amount"]))


def _round_opened(ledger: Ledger, e: ChainEvent, a: dict[str, Any]) -> None:
    rl = _round_of(ledger, a)
    rl.global_model_cid = str(a["global_model_cid"])
    rl.opened_block = e.block_number
    rl.commit_deadline = int(a["commit_deadline"])
    rl.reveal_deadline = int(a["reveal_deadline"])
    rl.settle_deadline = int(a["settle_deadline"])
    rl.anchor_block = e.block_number


def _committed(ledger: Ledger, e: ChainEvent, a: dict[str, Any]) -> None:
    rl = _round_of(ledger, a)
    rl.commits[str(a["participant"])] = str(a["commitment"])
    if str(a["participant"]) not in rl.commit_order:
        rl.commit_order.append(str(a["participant"]))
    rl.anchor_block = e.block_number


def _revealed(ledger: Ledger, e: ChainEvent, a: dict[str, Any]) -> None:
    rl = _round_of(ledger, a)
    rl.anchor_block = e.block_number
    rl.reveals[str(a["participant"])] = {
        "cid": str(a["cid"]),
        "sha256": str(a["sha256_digest"]),
        "num_samples": int(a["num_samples"]),
        "block": e.block_number,
    }


def _settled(ledger: Ledger, e: ChainEvent, a: dict[str, Any]) -> None:
    _round_of(ledger, a).settlement = {
        "new_global_cid": str(a["new_global_cid"]),
        "report_cid": str(a["report_cid"]),
        "payout_root": str(a["payout_root"]),
        "total_paid": int(a["total_paid"]),
        "challenge_deadline": int(a["challenge_deadline"]),
        "block": e.block_number,
    }


def _challenged(ledger: Ledger, e: ChainEvent, a: dict[str, Any]) -> None:
    _round_of(ledger, a).challengers[str(a["challenger"])] = Challenger(
        commitment=str(a["commitment"]), block=e.block_number
    )


def _evidence_revealed(ledger: Ledger, e: ChainEvent, a: dict[str, Any]) -> None:
    challenger = _round_of(ledger, a).challengers.get(str(a["challenger"]))
    if challenger is not None:
        challenger.evidence_cid = str(a["evidence_cid"])


def _challenge_rejected(ledger: Ledger, e: ChainEvent, a: dict[str, Any]) -> None:
    _round_of(ledger, a).rejected_by = str(a["arbiter"])


def _corrected(ledger: Ledger, e: ChainEvent, a: dict[str, Any]) -> None:
    _round_of(ledger, a).correction = {
        "new_global_cid": str(a["new_global_cid"]),
        "report_cid": str(a["report_cid"]),
        "payout_root": str(a["payout_root"]),
        "total_paid": int(a["total_paid"]),
        "arbiter": str(a["arbiter"]),
        "block": e.block_number,
    }


def _finalized(ledger: Ledger, e: ChainEvent, a: dict[str, Any]) -> None:
    rl = _round_of(ledger, a)
    rl.outcome = Outcome(int(a["outcome"]))
    rl.final_at = int(a["final_at"])
    ledger.allocated += int(a["total_paid"])


def _bond_forfeited(ledger: Ledger, e: ChainEvent, a: dict[str, Any]) -> None:
    record = {"round": int(a["round"]), "amount": int(a["amount"]),
              "to_requester": int(a["to_requester"])}  # fmt: skip
    ledger.bonds_forfeited.append(record)
    if int(a["round"]) in ledger.rounds:
        ledger.rounds[int(a["round"])].bond_forfeited = {
            "amount": record["amount"],
            "to_requester": record["to_requester"],
        }


def _bond_returned(ledger: Ledger, e: ChainEvent, a: dict[str, Any]) -> None:
    ledger.bonds_returned.append(int(a["amount"]))


def _slashed(ledger: Ledger, e: ChainEvent, a: dict[str, Any]) -> None:
    participant, amount = str(a["participant"]), int(a["amount"])
    if int(a["round"]) == 0:  # every commitment still unrevealed, slashed at withdrawal
        total = ledger.slashed_at_withdrawal.get(participant, 0) + amount
        ledger.slashed_at_withdrawal[participant] = total
    else:
        _round_of(ledger, a).slashed[participant] = amount


def _task_ended(ledger: Ledger, e: ChainEvent, a: dict[str, Any]) -> None:
    ledger.ended_reason = EndReason(int(a["reason"]))
    ledger.ended_at = int(a["ended_at"])


def _claimed(ledger: Ledger, e: ChainEvent, a: dict[str, Any]) -> None:
    account, amount, r = str(a["account"]), int(a["amount"]), int(a["round"])
    ledger.claims.append({"account": account, "round": r, "amount": amount,
                          "block": e.block_number})  # fmt: skip
    rl = ledger.round(r)
    rl.claims[account] = rl.claims.get(account, 0) + amount


def _challenger_paid(ledger: Ledger, e: ChainEvent, a: dict[str, Any]) -> None:
    challenger = _round_of(ledger, a).challengers.get(str(a["challenger"]))
    if challenger is not None:
        challenger.collected = int(a["amount"])


def _withdrawn(ledger: Ledger, e: ChainEvent, a: dict[str, Any]) -> None:
    ledger.withdrawals[str(a["participant"])] = int(a["amount"])


def _refunded(ledger: Ledger, e: ChainEvent, a: dict[str, Any]) -> None:
    ledger.refunds.append(int(a["amount"]))


def _validation_published(ledger: Ledger, e: ChainEvent, a: dict[str, Any]) -> None:
    ledger.validation_cid = str(a["cid"])


#: Event name -> how it changes the ledger. Events that do not belong to one task's ledger
#: (`CreditAdded` and `CreditWithdrawn` are an account's, indexed by the account) are counted
#: only; a test checks every task event of the ABI has a handler here.
HANDLERS: dict[str, Handler] = {
    "TaskCreated": _task_created,
    "TaskCancelled": _task_cancelled,
    "ParticipantJoined": _joined,
    "AggregatorBondPosted": _bond_posted,
    "RoundOpened": _round_opened,
    "Committed": _committed,
    "Revealed": _revealed,
    "RoundSettled": _settled,
    "SettlementChallenged": _challenged,
    "EvidenceRevealed": _evidence_revealed,
    "ChallengeRejected": _challenge_rejected,
    "SettlementCorrected": _corrected,
    "SettlementFinalized": _finalized,
    "AggregatorBondForfeited": _bond_forfeited,
    "AggregatorBondReturned": _bond_returned,
    "ParticipantSlashed": _slashed,
    "TaskEnded": _task_ended,
    "Claimed": _claimed,
    "ChallengerPaid": _challenger_paid,
    "StakeWithdrawn": _withdrawn,
    "BudgetRefunded": _refunded,
    "ValidationPublished": _validation_published,
}
