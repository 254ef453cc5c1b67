"""Getting tokens out of the Marketplace: cancel, refund, wind-down, claims, stakes and bonds.

Every function first checks, from chain reads, that its transaction would succeed, and raises
a one-line :class:`~marketplace.errors.ProtocolError` saying why not and what to do, so a
refused command sends nothing. Then it sends the transaction and reports what moved, read
from the receipt's events. (If the chain changes in between, the contract's own revert is
worded by :mod:`marketplace.chain.revert_messages`.)

These wrap today's contract functions (``cancel``, ``refund``, ``windDown``, ``claim``,
``withdrawStake``, ``withdrawCredit``); when the contract's ABI changes, only the checks and
calls below change, not the commands that print :class:`Moved`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marketplace.chain.client import MarketplaceClient
from marketplace.chain.revert_messages import phase_words, utc_time
from marketplace.chain.structs import Phase, RoundStatus, TaskInfo, TaskStatus
from marketplace.chain.transactor import TxReceipt
from marketplace.errors import ProtocolError
from marketplace.protocol.payouts import claim_entitlement
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

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "task_id": self.task_id,
            "account": self.account,
            "amount": amount_json(self.amount),
            "tx_hash": self.tx_hash,
        }


@dataclass(frozen=True)
class WoundDown:
    """A task ended by ``windDown`` because its round ``round`` was never settled."""

    task_id: int
    round: int
    tx_hash: str

    def to_json(self) -> dict[str, Any]:
        return {"action": "wind_down", "task_id": self.task_id, "round": self.round,
                "tx_hash": self.tx_hash}  # fmt: skip


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


def _phase_of(client: MarketplaceClient, task_id: int) -> Phase:
    return Phase(client.phase(task_id))


def refundable(client: MarketplaceClient, task_id: int, info: TaskInfo) -> int:
    """What ``refund`` would pay now: unallocated budget plus slashed stakes, minus refunds.

    A last settlement whose challenge window has passed is finalized by ``refund`` itself
    before it pays, so its total counts as allocated here already.
    """
    allocated = int(info.total_allocated)
    last = int(info.last_round)
    if info.phase_status == TaskStatus.ACTIVE and last:
        rd = client.round(task_id, last)
        if rd.round_status == RoundStatus.SETTLED:
            allocated += int(rd.total_paid)
    return int(info.escrow) + int(info.total_slashed) - allocated - int(info.total_refunded)


# -- actions -----------------------------------------------------------------------------


def cancel_task(client: MarketplaceClient, task_id: int) -> Moved:
    """Requester: cancel a task whose first round has not opened; the whole budget comes back."""
    info = existing_task(client, task_id)
    _require_requester(client, task_id, info)
    phase = _phase_of(client, task_id)
    if phase != Phase.CREATED:
        raise ProtocolError(
            f"task {task_id} cannot be cancelled: it is {phase_words(phase)} "
            f"(round {info.last_round}), and only a task whose first round has not opened can be",
            hint=f"once it ends, `fedmarket task refund {task_id}` returns what was not paid out",
        )
    receipt = client.cancel(task_id)
    amount = _event_amount(client, receipt, "TaskCancelled", "refund")
    return Moved("cancel", client.address, amount, receipt.tx_hash, task_id)


def refund_task(client: MarketplaceClient, task_id: int) -> Moved:
    """Requester: take back the budget nobody earned (and slashed stakes) once the task is over."""
    info = existing_task(client, task_id)
    _require_requester(client, task_id, info)
    phase = _phase_of(client, task_id)
    if phase not in FINISHED:
        raise ProtocolError(
            f"task {task_id} is {phase_words(phase)} (round {info.last_round}); its budget is "
            "refunded once it has ended",
            hint=f"wait for its last round, or `fedmarket task wind-down {task_id}` if a "
            "settlement is overdue",
        )
    owed = refundable(client, task_id, info)
    if owed <= 0:
        raise ProtocolError(
            f"nothing is left to refund from task {task_id}: "
            f"{format_amount(int(info.total_allocated))} was paid out and "
            f"{format_amount(int(info.total_refunded))} already refunded",
            hint="the allocated part stays in the contract for participants' claims",
        )
    receipt = client.refund(task_id)
    amount = _event_amount(client, receipt, "BudgetRefunded", "amount")
    return Moved("refund", client.address, amount, receipt.tx_hash, task_id)


def wind_down(client: MarketplaceClient, task_id: int) -> WoundDown:
    """Anyone: end a task whose aggregator missed a settlement deadline, so money can leave."""
    info = existing_task(client, task_id)
    phase = _phase_of(client, task_id)
    last = int(info.last_round)
    if info.phase_status != TaskStatus.ACTIVE or last == 0 or phase in FINISHED:
        raise ProtocolError(
            f"task {task_id} is {phase_words(phase)} (round {last}); wind-down is only for a "
            "round whose settlement is overdue",
            hint=f"see `fedmarket task show {task_id}`",
        )
    rd = client.round(task_id, last)
    if rd.round_status != RoundStatus.OPEN:
        raise ProtocolError(
            f"round {last} of task {task_id} is already settled; wind-down is only for a round "
            "whose settlement is overdue",
            hint=f"see `fedmarket task show {task_id}`",
        )
    deadline = int(rd.settle_deadline)
    if client.chain_time() <= deadline:
        raise ProtocolError(
            f"round {last} of task {task_id} may still be settled until {utc_time(deadline)}",
            hint="wind the task down after that if it is still not settled",
        )
    receipt = client.wind_down(task_id)
    return WoundDown(task_id, last, receipt.tx_hash)


def withdraw_stake(client: MarketplaceClient, task_id: int) -> Moved:
    """Participant: take the stake (what slashing left of it) back once the task is over."""
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
    phase = _phase_of(client, task_id)
    if phase not in FINISHED:
        raise ProtocolError(
            f"task {task_id} is {phase_words(phase)}; stakes come back once it has ended",
            hint="wait for its last round; `fedmarket join` withdraws by itself at the end",
        )
    receipt = client.withdraw_stake(task_id)
    amount = _event_amount(client, receipt, "StakeWithdrawn", "amount")
    return Moved("withdraw_stake", client.address, amount, receipt.tx_hash, task_id)


def withdraw_credits(client: MarketplaceClient) -> Moved:
    """Anyone with credited bonds (aggregators, winning challengers): withdraw them all."""
    credit = client.credits(client.address)
    if credit == 0:
        raise ProtocolError(
            f"{client.address} has no bonds credited to withdraw",
            hint="bonds are credited when a settlement becomes final or a challenge is decided",
        )
    receipt = client.withdraw_credit()
    amount = _event_amount(client, receipt, "CreditWithdrawn", "amount")
    return Moved("withdraw_credits", client.address, amount, receipt.tx_hash)


def claim_rewards(client: MarketplaceClient, store: ContentStore, task_id: int) -> Moved:
    """Participant: claim everything earned under the task's latest final payout root."""
    existing_task(client, task_id)
    entitlement = claim_entitlement(client, store, task_id, client.address)
    already = client.claimed(task_id, client.address)
    if entitlement is None or entitlement.cumulative <= already:
        raise ProtocolError(
            f"{client.address} has nothing to claim from task {task_id} "
            f"({format_amount(already)} claimed so far)",
            hint="rewards become claimable when a round's settlement is final",
        )
    receipt = client.claim(task_id, entitlement.cumulative, entitlement.proof)
    amount = _event_amount(client, receipt, "Claimed", "amount")
    return Moved("claim", client.address, amount, receipt.tx_hash, task_id)


def _event_amount(client: MarketplaceClient, receipt: TxReceipt, name: str, arg: str) -> int:
    for log in receipt.logs:
        event = client.events.decode(log)
        if event is not None and event.name == name:
            return int(event.args[arg])
    raise ProtocolError(f"the transaction {receipt.tx_hash} emitted no {name} event")
