"""The protocol's deadlines read from the chain: when a settlement becomes final, until when the
next round may be opened, and whether a task is overdue (anyone may then wind it down).

These mirror `Marketplace`'s own rules (``_dueFinalization``, ``_openDeadline``, ``windDown``)
from view calls only, so the coordinator, the participant node and the CLI can say what is
due before they send a transaction the contract would refuse. Deadlines are inclusive: the
contract acts once the block's time is strictly past them.
"""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.chain.client import MarketplaceClient
from marketplace.chain.structs import (
    EndReason,
    Outcome,
    RoundInfo,
    RoundStatus,
    TaskInfo,
    TaskStatus,
)


def due_outcome(info: RoundInfo) -> tuple[Outcome, int]:
    """How a pending settlement becomes final without a ruling, and its effective final time:
    unchallenged at the challenge deadline, no evidence at the evidence deadline, a silent
    arbiter at the ruling deadline. ``(Outcome.NONE, 0)`` for a round that is not pending."""
    status = info.round_status
    if status == RoundStatus.SETTLED:
        return Outcome.UNCHALLENGED, int(info.challenge_deadline)
    if status == RoundStatus.CHALLENGED:
        if int(info.revealed_challengers) == 0:
            return Outcome.NO_EVIDENCE, int(info.evidence_deadline)
        return Outcome.ARBITER_SILENT, int(info.resolve_deadline)
    return Outcome.NONE, 0


def final_time(info: RoundInfo, now: int) -> int | None:
    """The round's effective final time: stored once final, else the due time if it passed
    (finalization is lazy), else None (not final yet)."""
    if info.round_status == RoundStatus.FINAL:
        return int(info.final_at)
    outcome, at = due_outcome(info)
    if outcome is not Outcome.NONE and now > at:
        return at
    return None


def open_deadline(client: MarketplaceClient, task_id: int, task: TaskInfo, now: int) -> int | None:
    """The latest time the aggregator may open the next round (None when none is due: the
    task is not active, all rounds were opened, or the latest settlement is not final yet)."""
    if task.phase_status != TaskStatus.ACTIVE:
        return None
    last, settle_window = int(task.last_round), int(task.settle_window)
    if last == 0:
        return int(task.created_at) + settle_window
    if last >= int(task.rounds):
        return None
    final_at = final_time(client.round(task_id, last), now)
    return None if final_at is None else final_at + settle_window


@dataclass(frozen=True)
class Overdue:
    """The aggregator missed a deadline: anyone may now `windDown` the task (its bond is
    forfeited to the requester; stakes come back, final rounds stay claimable)."""

    task_id: int
    reason: EndReason
    round: int  # the unsettled round (reason 1), or the round that was not opened (reason 2)
    deadline: int

    def describe(self) -> str:
        if self.reason is EndReason.SETTLEMENT_MISSED:
            what = f"round {self.round} was not settled"
        else:
            what = f"round {self.round} was not opened"
        return f"task {self.task_id}: {what} by its deadline"


def overdue(client: MarketplaceClient, task_id: int, *, now: int | None = None) -> Overdue | None:
    """Whether `windDown` would succeed now, and why (None when no deadline was missed)."""
    now = client.chain_time() if now is None else now
    task = client.task(task_id)
    if task.phase_status != TaskStatus.ACTIVE:
        return None
    last = int(task.last_round)
    if last:
        info = client.round(task_id, last)
        if info.round_status == RoundStatus.OPEN:
            deadline = int(info.settle_deadline)
            if now > deadline:
                return Overdue(task_id, EndReason.SETTLEMENT_MISSED, last, deadline)
            return None
    deadline_ = open_deadline(client, task_id, task, now)
    if deadline_ is None or now <= deadline_:
        return None
    return Overdue(task_id, EndReason.ROUND_NOT_OPENED, last + 1, deadline_)
