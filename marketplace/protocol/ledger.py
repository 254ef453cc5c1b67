"""The payout ledger rebuilt from chain events alone (no storage reads): the auditor's view.

`Ledger.from_events` folds a task's events, oldest first, into plain records: the task's
parameters, who staked what, each round's commits, reveals, settlement, challenge and
resolution, and every claim, slash, refund and stake withdrawal. The service indexes the same
events; the audit checks the ledger against recomputation and against the contract's counters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from marketplace.chain.events import ChainEvent


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
    settlement: dict[str, Any] | None = None
    challenge: dict[str, Any] | None = None
    upheld: bool | None = None
    final: bool = False
    slashed: dict[str, int] = field(default_factory=dict)
    anchor_block: int = 0  # block of the round's last open/commit/reveal event (seeds valuation)

    @property
    def voided(self) -> bool:
        return self.upheld is True


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
    refunds: list[int] = field(default_factory=list)
    cancelled_refund: int | None = None
    ended_reason: int | None = None
    allocated: int = 0
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
        a = e.args
        self.events += 1
        name = e.name
        if name == "TaskCreated":
            self.requester = str(a["requester"])
            self.params = dict(a["params"])
            self.created_block = e.block_number
        elif name == "TaskCancelled":
            self.cancelled_refund = int(a["refund"])
        elif name == "ParticipantJoined":
            self.stakes[str(a["participant"])] = int(a["stake"])
        elif name == "RoundOpened":
            rl = self.round(int(a["round"]))
            rl.global_model_cid = str(a["global_model_cid"])
            rl.opened_block = e.block_number
            rl.commit_deadline = int(a["commit_deadline"])
            rl.reveal_deadline = int(a["reveal_deadline"])
            rl.settle_deadline = int(a["settle_deadline"])
            rl.anchor_block = e.block_number
        elif name == "Committed":
            rl = self.round(int(a["round"]))
            rl.commits[str(a["participant"])] = str(a["commitment"])
            if str(a["participant"]) not in rl.commit_order:
                rl.commit_order.append(str(a["participant"]))
            rl.anchor_block = e.block_number
        elif name == "Revealed":
            rl = self.round(int(a["round"]))
            rl.anchor_block = e.block_number
            rl.reveals[str(a["participant"])] = {
                "cid": str(a["cid"]),
                "sha256": str(a["sha256_digest"]),
                "num_samples": int(a["num_samples"]),
                "block": e.block_number,
            }
        elif name == "RoundSettled":
            self.round(int(a["round"])).settlement = {
                "new_global_cid": str(a["new_global_cid"]),
                "report_cid": str(a["report_cid"]),
                "payout_root": str(a["payout_root"]),
                "total_paid": int(a["total_paid"]),
                "challenge_deadline": int(a["challenge_deadline"]),
                "block": e.block_number,
            }
        elif name == "SettlementChallenged":
            self.round(int(a["round"])).challenge = {
                "challenger": str(a["challenger"]),
                "evidence_cid": str(a["evidence_cid"]),
            }
        elif name == "ChallengeResolved":
            self.round(int(a["round"])).upheld = bool(a["upheld"])
        elif name == "SettlementFinalized":
            self.round(int(a["round"])).final = True
            self.allocated = int(a["total_allocated"])
        elif name == "ParticipantSlashed":
            rl = self.round(int(a["round"]))
            rl.slashed[str(a["participant"])] = int(a["amount"])
        elif name == "Claimed":
            self.claims.append(
                {
                    "account": str(a["account"]),
                    "amount": int(a["amount"]),
                    "cumulative": int(a["cumulative_amount"]),
                    "block": e.block_number,
                }
            )
        elif name == "StakeWithdrawn":
            self.withdrawals[str(a["participant"])] = int(a["amount"])
        elif name == "BudgetRefunded":
            self.refunds.append(int(a["amount"]))
        elif name == "TaskEnded":
            self.ended_reason = int(a["reason"])
        elif name == "ValidationPublished":
            self.validation_cid = str(a["cid"])

    # -- totals --------------------------------------------------------------------------

    @property
    def escrow(self) -> int:
        return int(self.params.get("rounds", 0)) * int(self.params.get("round_budget", 0))

    @property
    def total_claimed(self) -> int:
        return sum(c["amount"] for c in self.claims)

    @property
    def total_slashed(self) -> int:
        return sum(sum(r.slashed.values()) for r in self.rounds.values())

    @property
    def total_staked(self) -> int:
        return sum(self.stakes.values())

    @property
    def total_withdrawn(self) -> int:
        return sum(self.withdrawals.values())

    @property
    def total_refunded(self) -> int:
        return sum(self.refunds) + (self.cancelled_refund or 0)

    def settled_rounds(self) -> list[RoundLedger]:
        return [self.rounds[r] for r in sorted(self.rounds) if self.rounds[r].settlement]

    def revealed_before(self, r: int) -> set[str]:
        """CIDs revealed in rounds before ``r`` (a reveal of one of them is a stale replay)."""
        return {rev["cid"] for q, rl in self.rounds.items() if q < r for rev in rl.reveals.values()}

    def last_valid_settlement_before(self, r: int) -> RoundLedger | None:
        """The latest round before ``r`` whose settlement stands (not voided)."""
        found = None
        for q in sorted(self.rounds):
            rl = self.rounds[q]
            if q < r and rl.settlement and not rl.voided:
                found = rl
        return found
