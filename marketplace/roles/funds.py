"""Getting tokens out of the Marketplace: cancel, refund, wind-down, claims, stakes and bonds.

Every function first checks, from chain reads, that its transaction would succeed, and raises
a one-line :class:`~marketplace.errors.ProtocolError` saying why not and what to do, so a
refused command sends nothing. Then it sends the transaction and reports what moved, read
from the receipt's events. Every token held for a task has an exit: the requester's refund
(unallocated budget, slashed stakes, forfeited bonds, and after the claim deadline the
unclaimed payouts), the participants' claims and stakes, the challengers' collections and the
credited bonds; anyone may wind down a task whose aggregator missed a deadline. (If the
chain changes between the check and the transaction, the contract's own revert is worded by
:mod:`marketplace.chain.revert_messages`.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marketplace.chain.client import MarketplaceClient
from marketplace.chain.revert_messages import phase_words, utc_time
from marketplace.chain.structs import (
    ChallengeState,
    Outcome,
    Phase,
    RoundStatus,
    TaskInfo,
    TaskStatus,
)
from marketplace.chain.transactor import TxReceipt
from marketplace.errors import ProtocolError
from marketplace.protocol.deadlines import due_outcome, overdue
from marketplace.protocol.payouts import claimable_rounds
from marketplace.storage import ContentStore
from marketplace.units import amount_json, format_amount

#: A task is over for money purposes in these phases (Ended includes a lazily final last round).
FINISHED = (Phase.ENDED, Phase.CANCELLED)


@dataclass(frozen=True)
class Moved:
    """Tokens that left the contract: what for, to whom, how much, in which transaction."""

    action: str
    account: str
    amount: int
    tx_hash: str
    task_id: int | None = None
    rounds: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "task_id": self.task_id,
            "account": self.account,
            "amount": amount_json(self.amount),
            "rounds": list(self.rounds),
            "tx_hash": self.tx_hash,
        }


@dataclass(frozen=True)
class WoundDown:
    """A task ended by ``windDown`` because its aggregator missed a deadline."""

    task_id: int
    reason: str  # EndReason label
    round: int
    tx_hash: str

    def to_json(self) -> dict[str, Any]:
        return {"action": "wind_down", "task_id": self.task_id, "reason": self.reason,
                "round": self.round, "tx_hash": self.tx_hash}  # fmt: skip


# -- checks ------------------------------------------------------------------------------


def existing_task(client: MarketplaceClient, task_id: int) -> TaskInfo:
    """The task's stored facts; a one-line error when it does not exist."""
    info = client.task(task_id)
    if info.phase_status == TaskStatus.NONE:
        raise ProtocolError(
            f"task {task_id} does not exist on this marketplace",
            hint="see `fedmarket task list --all`",
        )
    return info


def _require_requester(client: MarketplaceClient, task_id: int, info: TaskInfo) -> None:
    if str(info.requester).lower() != client.address.lower():
        raise ProtocolError(
            f"{client.address} is not the requester of task {task_id} ({info.requester} is)",
            hint="sign with the requester's key: --key",
        )


def _effective(client: MarketplaceClient, task_id: int, info: TaskInfo) -> tuple[int, int, int]:
    """(allocated, ended_at, status) as they will be once a due last settlement is finalized
    (refund, claim and withdrawStake finalize it first)."""
    allocated, ended_at = int(info.total_allocated), int(info.ended_at)
    status = info.phase_status
    last = int(info.last_round)
    if status == TaskStatus.ACTIVE and last:
        rd = client.round(task_id, last)
        outcome, at = due_outcome(rd)
        if outcome is not Outcome.NONE and client.chain_time() > at:
            allocated += int(rd.total_paid)
            if last == int(info.rounds):
                status, ended_at = TaskStatus.ENDED, at
    return allocated, ended_at, status


def refundable(client: MarketplaceClient, task_id: int, info: TaskInfo) -> int:
    """What ``refund`` would pay now: escrow + slashed stakes + forfeited bonds - refunds -
    what claims may still take (every allocation while claims are open, only what was
    claimed once they closed)."""
    allocated, ended_at, status = _effective(client, task_id, info)
    closed = status != TaskStatus.ACTIVE and client.chain_time() > ended_at + int(info.claim_window)
    reserved = int(info.total_claimed) if closed else allocated
    return (
        int(info.escrow)
        + int(info.total_slashed)
        + int(info.total_forfeited)
        - int(info.total_refunded)
        - reserved
    )


# -- actions -----------------------------------------------------------------------------


def cancel_task(client: MarketplaceClient, task_id: int) -> Moved:
    """Requester: cancel a task whose first round has not opened; the whole budget comes back."""
    info = existing_task(client, task_id)
    _require_requester(client, task_id, info)
    phase = client.phase(task_id)
    if phase != Phase.CREATED:
        raise ProtocolError(
            f"task {task_id} cannot be cancelled: it is {phase_words(phase)} (round "
            f"{info.last_round}), and only a task whose first round has not opened can be",
            hint=f"once it ends, `fedmarket task refund {task_id}` returns what was not paid out",
        )
    receipt = client.cancel(task_id)
    amount = _event_amount(client, receipt, "TaskCancelled", "refund")
    return Moved("cancel", client.address, amount, receipt.tx_hash, task_id)


def refund_task(client: MarketplaceClient, task_id: int) -> Moved:
    """Requester: take back what nobody earned (budget, slashed stakes, forfeited bonds and,
    after the claim deadline, unclaimed payouts) once the task is over."""
    info = existing_task(client, task_id)
    _require_requester(client, task_id, info)
    phase = client.phase(task_id)
    if phase not in FINISHED:
        raise ProtocolError(
            f"task {task_id} is still running ({phase_words(phase)}, round {info.last_round}); "
            "its budget is refunded once it has ended",
            hint=f"wait for its last round, or `fedmarket task wind-down {task_id}` if its "
            "aggregator missed a deadline",
        )
    if int(info.last_round) and not info.validation_published:
        raise ProtocolError(
            f"task {task_id} ran rounds, so its validation set must be published before the "
            "refund (anyone can then audit them)",
            hint=f"`fedmarket task publish-validation {task_id} --key KEY --validation FILE`",
        )
    owed = refundable(client, task_id, info)
    if owed <= 0:
        raise ProtocolError(
            f"nothing is left to refund from task {task_id} now: "
            f"{format_amount(int(info.total_allocated))} was paid out and "
            f"{format_amount(int(info.total_refunded))} already refunded",
            hint="allocated payouts stay for participants' claims until the claim deadline",
        )
    receipt = client.refund(task_id)
    amount = _event_amount(client, receipt, "BudgetRefunded", "amount")
    return Moved("refund", client.address, amount, receipt.tx_hash, task_id)


def wind_down(client: MarketplaceClient, task_id: int) -> WoundDown:
    """Anyone: end a task whose aggregator missed a deadline (to settle the open round, or to
    open round 1 or the next round), so that stakes and the budget can leave."""
    info = existing_task(client, task_id)
    late = overdue(client, task_id)
    if late is None:
        phase = client.phase(task_id)
        raise ProtocolError(
            f"task {task_id} is {phase_words(phase)} (round {info.last_round}) and its "
            "aggregator has missed no deadline: it cannot be wound down",
            hint=f"see `fedmarket task show {task_id}`",
        )
    receipt = client.wind_down(task_id)
    return WoundDown(task_id, late.reason.label, late.round, receipt.tx_hash)


def finalize(client: MarketplaceClient, task_id: int) -> int:
    """Anyone: make the latest settlement final once due (no challenge, no evidence, or a
    silent arbiter); returns the round."""
    info = existing_task(client, task_id)
    last = int(info.last_round)
    rd = client.round(task_id, last) if last else None
    if rd is None or rd.round_status not in (RoundStatus.SETTLED, RoundStatus.CHALLENGED):
        raise ProtocolError(
            f"task {task_id} has no settlement waiting to become final",
            hint=f"see `fedmarket task show {task_id}`",
        )
    outcome, at = due_outcome(rd)
    if client.chain_time() <= at:
        raise ProtocolError(
            f"round {last}'s settlement becomes final ({outcome.label}) after {utc_time(at)}",
            hint="run this again after that",
        )
    client.finalize(task_id)
    return last


def withdraw_stake(client: MarketplaceClient, task_id: int) -> Moved:
    """Participant: take the stake back once the task is over (minus every pending slash for
    a commitment left unrevealed, applied by the contract first)."""
    existing_task(client, task_id)
    me = client.participant(task_id, client.address)
    if not me["joined"]:
        raise ProtocolError(
            f"{client.address} has not joined task {task_id}", hint="check --key and --task"
        )
    if me["withdrawn"]:
        raise ProtocolError(
            f"{client.address} has already taken its stake out of task {task_id}",
            hint="nothing to do",
        )
    phase = client.phase(task_id)
    if phase not in FINISHED:
        raise ProtocolError(
            f"task {task_id} is still running ({phase_words(phase)}); stakes come back once it "
            "has ended",
            hint=f"wait for its last round, or `fedmarket task wind-down {task_id}` if its "
            "aggregator missed a deadline",
        )
    receipt = client.withdraw_stake(task_id)
    amount = _event_amount(client, receipt, "StakeWithdrawn", "amount")
    return Moved("withdraw_stake", client.address, amount, receipt.tx_hash, task_id)


def collect_challenges(client: MarketplaceClient, task_id: int) -> list[Moved]:
    """Challenger: collect every decided challenge of the task that pays this account back."""
    # disputes imports the round computation (torch): only when there is something to collect
    from marketplace.roles.disputes import collect_challenge

    info = existing_task(client, task_id)
    moved = []
    for r in range(1, int(info.last_round) + 1):
        state = client.challenge_of(task_id, r, client.address).state
        if state != ChallengeState.REVEALED:
            continue
        try:
            amount, tx_hash = collect_challenge(client, task_id, r)
        except ProtocolError:
            continue  # failed or not decided yet
        moved.append(Moved("collect_challenge", client.address, amount, tx_hash, task_id, (r,)))
    return moved


def withdraw_credits(client: MarketplaceClient) -> Moved:
    """Anyone with credited bonds (aggregators, winning challengers): withdraw them all."""
    credit = client.credits(client.address)
    if credit == 0:
        raise ProtocolError(
            f"{client.address} has no bonds credited to withdraw",
            hint="an aggregator's bond is credited back when its task's last round is final",
        )
    receipt = client.withdraw_credit()
    amount = _event_amount(client, receipt, "CreditWithdrawn", "amount")
    return Moved("withdraw_credits", client.address, amount, receipt.tx_hash)


def claim_rewards(client: MarketplaceClient, store: ContentStore, task_id: int) -> Moved:
    """Participant: claim every final round it revealed in and was paid for, in one claim."""
    info = existing_task(client, task_id)
    _, ended_at, status = _effective(client, task_id, info)
    deadline = ended_at + int(info.claim_window)
    if status != TaskStatus.ACTIVE and client.chain_time() > deadline:
        raise ProtocolError(
            f"the claims of task {task_id} closed at {utc_time(deadline)}",
            hint="unclaimed payouts went back to the requester's refund",
        )
    found = claimable_rounds(client, store, task_id, client.address)
    if not found.claims:
        why = "; ".join(f"round {r}: {p}" for r, p in sorted(found.problems.items()))
        raise ProtocolError(
            f"{client.address} has nothing to claim from task {task_id}"
            + (f" ({why})" if why else ""),
            hint="a round's payout becomes claimable when its settlement is final",
        )
    receipt = client.claim(task_id, found.claims)
    return Moved("claim", client.address, found.total, receipt.tx_hash, task_id,
                 tuple(found.rounds))  # fmt: skip


def _event_amount(client: MarketplaceClient, receipt: TxReceipt, name: str, arg: str) -> int:
    for event in client.events_in(receipt):
        if event.name == name:
            return int(event.args[arg])
    raise ProtocolError(f"the transaction {receipt.tx_hash} emitted no {name} event")
