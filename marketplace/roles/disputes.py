"""Disputes: challenge a settlement with audit evidence, reveal it, rule on it, collect bonds.

A challenge is committed first and opened later, so nobody can copy a challenger's evidence
from the mempool and take its bounty: the challenger posts its bond with
``keccak256(abi.encode(taskId, round, keccak256(evidenceCid), challenger, salt))`` during the
challenge window and reveals the evidence CID after the window closed.

:func:`advance_challenge` is restart-safe and keeps no state of its own: the evidence is a
deterministic function of the round's recomputation (so a restarted run rebuilds the same
bytes and CID) and the salt is derived from the challenger's key, like a participant's commit
salt. Each call reads the challenge's state on chain and does the next step: file, wait for
the window to close, reveal.

The arbiter rules with :func:`reject` or :func:`uphold`; upholding recomputes the round with
the very computation the coordinator and the audit use (``compute_round`` with publish=True),
stores the corrected model and report, and settles the corrected root, final at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from marketplace.chain.client import MarketplaceClient
from marketplace.chain.commitment import cid_digest, derived_salt, evidence_commitment
from marketplace.chain.revert_messages import utc_time
from marketplace.chain.structs import (
    ChallengeState,
    Outcome,
    RoundInfo,
    RoundStatus,
    TaskInfo,
    TaskStatus,
)
from marketplace.chain.transactor import TxReceipt
from marketplace.errors import ConfigError, ProtocolError
from marketplace.protocol.deadlines import due_outcome
from marketplace.protocol.ledger import Ledger
from marketplace.protocol.round_compute import (
    RoundOutcome,
    Validation,
    carried_evidence,
    compute_round,
    inputs_from_ledger,
)
from marketplace.protocol.task_spec import TaskSpec
from marketplace.storage import ContentStore
from marketplace.units import format_amount

Log = Callable[[str], None]
#: Seconds of block time past a deadline before acting on it (the next block must be past it).
MARGIN_S = 1


class ChallengeStep(StrEnum):
    """Where a challenge stands after :func:`advance_challenge`."""

    FILED = "filed"  # bond and evidence commitment posted; the window is still open
    REVEALED = "revealed"  # evidence revealed; the arbiter rules (or stays silent)
    TOO_LATE = "too-late"  # the evidence window closed before the reveal: the bond is lost
    DECIDED = "decided"  # the round is final; collect with `collect_challenge`


@dataclass(frozen=True)
class ChallengeStatus:
    task_id: int
    round: int
    challenger: str
    step: ChallengeStep
    evidence_cid: str
    bond: int

    def to_json(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "round": self.round, "challenger": self.challenger,
                "step": str(self.step), "evidence_cid": self.evidence_cid,
                "bond": str(self.bond)}  # fmt: skip


def evidence_salt(client: MarketplaceClient, task_id: int, round_: int) -> bytes:
    """The challenger's secret salt for ``round_``: only its key computes it, at any restart."""
    if client.account is None:
        raise ConfigError("a challenge needs an account (--key)")
    return derived_salt(
        client.account,
        purpose="evidence",
        chain_id=int(client.w3.eth.chain_id),
        marketplace=client.market.address,
        task_id=task_id,
        round_=round_,
    )


def evidence_bytes(task_id: int, round_: int, findings: list[dict[str, Any]]) -> bytes:
    """Canonical evidence: the audit's findings about the round (deterministic bytes)."""
    document = {"task_id": task_id, "round": round_, "findings": findings, "version": 1}
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def settled_round(
    client: MarketplaceClient, task_id: int, round_: int
) -> tuple[TaskInfo, RoundInfo]:
    """The task and the round, which must exist and have been settled (one-line errors)."""
    task = client.task(task_id)
    if task.phase_status == TaskStatus.NONE:
        raise ProtocolError(f"task {task_id} does not exist", hint="see `fedmarket task list`")
    if round_ > int(task.rounds):
        rounds = int(task.rounds)
        raise ProtocolError(
            f"task {task_id} has {rounds} round{'s' if rounds != 1 else ''}; there is no "
            f"round {round_}",
            hint=f"see `fedmarket task show {task_id}`",
        )
    if not 1 <= round_ <= int(task.last_round):
        raise ProtocolError(
            f"round {round_} of task {task_id} has not been opened (rounds opened: "
            f"{task.last_round} of {task.rounds})",
            hint=f"see `fedmarket task show {task_id}`",
        )
    info = client.round(task_id, round_)
    if info.round_status == RoundStatus.OPEN:
        raise ProtocolError(
            f"round {round_} of task {task_id} is not settled yet: there is nothing to dispute",
            hint="a settlement can be challenged during its challenge window",
        )
    return task, info


def check_challenger(client: MarketplaceClient, task_id: int, task: TaskInfo) -> None:
    me = client.address.lower()
    for role in ("aggregator", "arbiter"):
        if str(task.data[role]).lower() == me:
            raise ProtocolError(
                f"{client.address} is the {role} of task {task_id} and cannot challenge it",
                hint="challenge from another account (--key)",
            )


def advance_challenge(
    client: MarketplaceClient,
    store: ContentStore,
    task_id: int,
    round_: int,
    evidence: Callable[[], bytes],
    *,
    wait: bool = True,
    poll_s: float = 0.5,
    timeout_s: float | None = None,
    log: Log = print,
) -> ChallengeStatus:
    """Do the next steps of this account's challenge of ``round_``: file it (bond + evidence
    commitment), wait for the challenge window to close (``wait``), reveal the evidence.

    ``evidence`` builds the evidence bytes (e.g. the audit's findings); it is called to file
    the challenge and, after a restart, to rebuild the committed CID.
    """
    started = time.monotonic()
    task, info = settled_round(client, task_id, round_)
    check_challenger(client, task_id, task)
    bond = int(task.settle_bond)
    salt = evidence_salt(client, task_id, round_)
    mine = client.challenge_of(task_id, round_, client.address)
    evidence_cid = ""
    if mine.state == ChallengeState.NONE:
        if info.round_status not in (RoundStatus.SETTLED, RoundStatus.CHALLENGED) or (
            client.chain_time() > int(info.challenge_deadline)
        ):
            raise ProtocolError(
                f"the challenge window of round {round_} of task {task_id} closed at "
                f"{utc_time(info.challenge_deadline)}",
                hint="a settlement can only be challenged during its challenge window",
            )
        evidence_cid = store.add(evidence()).cid
        client.challenge(
            task_id,
            round_,
            evidence_commitment(task_id, round_, evidence_cid, client.address, salt),
        )
        log(
            f"challenged round {round_} of task {task_id} (bond {format_amount(bond)}); "
            f"evidence {evidence_cid}"
        )
        mine = client.challenge_of(task_id, round_, client.address)
    if mine.state != ChallengeState.COMMITTED:
        step = ChallengeStep.REVEALED
        if client.round(task_id, round_).round_status == RoundStatus.FINAL:
            step = ChallengeStep.DECIDED
        return ChallengeStatus(task_id, round_, client.address, step, evidence_cid, bond)
    if not evidence_cid:  # restarted: rebuild the evidence this account committed to
        evidence_cid = store.add(evidence()).cid
        expected = evidence_commitment(task_id, round_, evidence_cid, client.address, salt)
        if expected != mine.commitment:
            raise ProtocolError(
                f"cannot rebuild the evidence committed to for round {round_} of task "
                f"{task_id}: the audit's findings changed since the challenge was filed",
                hint="the bond is lost unless the same evidence is revealed in time",
            )
    info = client.round(task_id, round_)
    while client.chain_time() <= int(info.challenge_deadline):
        if not wait:
            return ChallengeStatus(
                task_id, round_, client.address, ChallengeStep.FILED, evidence_cid, bond
            )
        if timeout_s is not None and time.monotonic() - started > timeout_s:
            raise ProtocolError(f"gave up waiting for the challenge window after {timeout_s:.0f}s")
        time.sleep(poll_s)
    if client.chain_time() > int(info.evidence_deadline):
        log(f"round {round_}: the evidence window closed before the reveal; the bond is lost")
        return ChallengeStatus(
            task_id, round_, client.address, ChallengeStep.TOO_LATE, evidence_cid, bond
        )
    client.reveal_evidence(task_id, round_, evidence_cid, salt)
    log(f"round {round_}: evidence {evidence_cid} revealed; the arbiter rules next")
    return ChallengeStatus(
        task_id, round_, client.address, ChallengeStep.REVEALED, evidence_cid, bond
    )


def collect_challenge(client: MarketplaceClient, task_id: int, round_: int) -> tuple[int, str]:
    """Take back this challenger's bond (plus its share of the aggregator's bond when upheld,
    the bond alone when the arbiter was silent); returns (amount paid, transaction hash)."""
    _, info = settled_round(client, task_id, round_)
    mine = client.challenge_of(task_id, round_, client.address)
    if mine.state == ChallengeState.NONE:
        raise ProtocolError(
            f"{client.address} did not challenge round {round_} of task {task_id}",
            hint="check --key, --task and --round",
        )
    if mine.state == ChallengeState.COLLECTED:
        raise ProtocolError(
            f"{client.address} already collected its challenge of round {round_}",
            hint="nothing to do",
        )
    outcome = info.round_outcome
    if info.round_status != RoundStatus.FINAL:
        due, at = due_outcome(info)
        if due is Outcome.NONE or client.chain_time() <= at:
            raise ProtocolError(
                f"round {round_} of task {task_id} is not decided yet",
                hint="collect after the arbiter's ruling or its deadline",
            )
        outcome = due
    if mine.state != ChallengeState.REVEALED or outcome not in (
        Outcome.CORRECTED,
        Outcome.ARBITER_SILENT,
    ):
        raise ProtocolError(
            f"nothing to collect from round {round_} of task {task_id}: the challenge "
            f"{'was not revealed' if mine.state != ChallengeState.REVEALED else 'failed'} "
            f"(outcome {outcome.label}), so its bond went to the aggregator",
            hint="a bond comes back when the challenge is upheld or the arbiter was silent",
        )
    receipt = client.collect_challenge(task_id, round_)
    paid = sum(
        int(e.args["amount"]) for e in client.events_in(receipt) if e.name == "ChallengerPaid"
    )
    return paid, receipt.tx_hash


# -- the arbiter ----------------------------------------------------------------------------


def check_ruling(client: MarketplaceClient, task_id: int, round_: int) -> RoundInfo:
    """The round, which the signer (the task's arbiter) may rule on now; one-line errors."""
    task = client.task(task_id)
    if task.phase_status != TaskStatus.NONE and str(task.arbiter).lower() != client.address.lower():
        raise ProtocolError(
            f"{client.address} is not the arbiter of task {task_id} ({task.arbiter} is)",
            hint="sign with the arbiter's key (--key)",
        )
    task, info = settled_round(client, task_id, round_)
    if info.round_status != RoundStatus.CHALLENGED:
        raise ProtocolError(
            f"round {round_} of task {task_id} has no challenge to rule on "
            f"({info.round_status.name.lower()})",
            hint=f"see `fedmarket task show {task_id}`",
        )
    now = client.chain_time()
    if now <= int(info.evidence_deadline):
        raise ProtocolError(
            f"the challengers of round {round_} may reveal evidence until "
            f"{utc_time(info.evidence_deadline)}; the ruling comes after that",
            hint="run this again once the evidence window has closed",
        )
    if int(info.revealed_challengers) == 0:
        raise ProtocolError(
            f"no challenger of round {round_} revealed evidence: the settlement stands",
            hint=f"anyone can make it final: `fedmarket task finalize {task_id}`",
        )
    if now > int(info.resolve_deadline):
        raise ProtocolError(
            f"the ruling window of round {round_} closed at {utc_time(info.resolve_deadline)}: "
            "the settlement stands and the revealed challengers get their bonds back",
        )
    return info


def reject(client: MarketplaceClient, task_id: int, round_: int) -> TxReceipt:
    """Arbiter: the challenges fail; the settlement becomes final as settled."""
    check_ruling(client, task_id, round_)
    return client.reject(task_id, round_)


def corrected_settlement(
    client: MarketplaceClient,
    store: ContentStore,
    task_id: int,
    round_: int,
    validation: Validation,
) -> RoundOutcome:
    """The round recomputed by the coordinator's and the audit's own computation, its model
    and report stored (what the arbiter settles when it upholds)."""
    ledger = Ledger.from_events(task_id, client.task_events(task_id))
    spec = TaskSpec.from_json(store.cat_bytes(str(ledger.params["spec_cid"])))
    inputs = inputs_from_ledger(
        client.w3, ledger, round_, spec, marketplace=client.market.address,
        previous_evidence=carried_evidence(ledger, store, round_),
    )  # fmt: skip
    return compute_round(inputs, store, validation, publish=True)


def uphold(
    client: MarketplaceClient,
    store: ContentStore,
    task_id: int,
    round_: int,
    validation: Validation,
    *,
    force: bool = False,
) -> RoundOutcome:
    """Arbiter: the challenges succeed; settle the recomputed round in place of the original
    (final at once: the round's revealers are paid the corrected amounts by their claims)."""
    info = check_ruling(client, task_id, round_)
    outcome = corrected_settlement(client, store, task_id, round_, validation)
    same = (
        "0x" + outcome.payout_root.hex() == str(info.payout_root).lower()
        and int(outcome.total_paid) == int(info.total_paid)
        and "0x" + cid_digest(outcome.new_global_cid).hex() == str(info.new_global_cid_hash).lower()
    )
    if same and not force:
        raise ProtocolError(
            f"the recomputation of round {round_} matches its settlement: there is nothing to "
            "correct",
            hint="reject the challenge (--reject), or --force to uphold anyway",
        )
    client.uphold(
        task_id,
        round_,
        outcome.new_global_cid,
        outcome.report_cid,
        outcome.payout_root,
        outcome.total_paid,
    )
    return outcome
