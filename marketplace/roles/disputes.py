"""Checks before a challenge or a resolution is sent: is there something to dispute, by whom.

They read the chain only, so a command that would be refused says why in one line before it
spends a minute auditing, stores evidence, approves a bond or sends a transaction.
"""

from __future__ import annotations

from marketplace.chain.client import MarketplaceClient
from marketplace.chain.revert_messages import utc_time
from marketplace.chain.structs import RoundInfo, RoundStatus
from marketplace.errors import ProtocolError
from marketplace.roles.funds import existing_task
from marketplace.roles.tasks import require_funds


def _settled_round(client: MarketplaceClient, task_id: int, round_: int) -> RoundInfo:
    info = existing_task(client, task_id)
    rounds, last = int(info.rounds), int(info.last_round)
    if round_ > rounds:
        raise ProtocolError(
            f"task {task_id} has {rounds} round{'s' if rounds != 1 else ''}; there is no "
            f"round {round_}",
            hint=f"see `fedmarket task show {task_id}`",
        )
    if round_ > last:
        raise ProtocolError(
            f"round {round_} of task {task_id} has not been opened yet (last opened: {last})",
            hint=f"see `fedmarket task show {task_id}`",
        )
    return client.round(task_id, round_)


def check_challengeable(client: MarketplaceClient, task_id: int, round_: int) -> int:
    """Raise unless ``round_`` can be challenged now by the signer; returns the bond."""
    rd = _settled_round(client, task_id, round_)
    info = client.task(task_id)
    if str(info.aggregator).lower() == client.address.lower():
        raise ProtocolError(
            f"{client.address} is the aggregator of task {task_id} and cannot challenge its own "
            "settlement",
            hint="challenge from another account",
        )
    status = rd.round_status
    if status in (RoundStatus.OPEN, RoundStatus.NONE):
        raise ProtocolError(
            f"round {round_} of task {task_id} is not settled yet, so there is nothing to "
            "challenge",
            hint="a round can be challenged in the window right after its settlement",
        )
    if status != RoundStatus.SETTLED:
        raise ProtocolError(
            f"round {round_} of task {task_id} is already {status.name.lower()}; it can no "
            "longer be challenged",
            hint=f"see `fedmarket task show {task_id}`",
        )
    deadline = int(rd.challenge_deadline)
    if client.chain_time() >= deadline:
        raise ProtocolError(
            f"the challenge window of round {round_} of task {task_id} closed at "
            f"{utc_time(deadline)}",
            hint="a settlement is final once its window has passed",
        )
    bond = int(info.settle_bond)
    require_funds(client, bond, "the challenge bond")
    return bond


def check_resolvable(client: MarketplaceClient, task_id: int, round_: int) -> int:
    """Raise unless the signer can resolve a challenge on ``round_``; returns the two bonds."""
    rd = _settled_round(client, task_id, round_)
    info = client.task(task_id)
    arbiter = str(info.arbiter)
    resolver = str(info.requester) if int(arbiter, 16) == 0 else arbiter
    if resolver.lower() != client.address.lower():
        raise ProtocolError(
            f"{client.address} may not resolve challenges of task {task_id}; {resolver} does",
            hint="sign with the arbiter's key, or the requester's when the task has no arbiter",
        )
    if rd.round_status != RoundStatus.CHALLENGED:
        raise ProtocolError(
            f"round {round_} of task {task_id} has no open challenge "
            f"(it is {rd.round_status.name.lower()})",
            hint=f"see `fedmarket task show {task_id}`",
        )
    return 2 * int(info.settle_bond)
