"""A participant's on-chain part in a task, whoever trains: join, commit, reveal, claim.

Kept apart from the training node (``participant/node.py``) so that code which only moves
an update through the protocol, such as a Flower ClientApp's reveal and claim steps, imports
neither torch nor the training code.
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from marketplace.chain.client import MarketplaceClient
from marketplace.chain.commitment import commitment, derived_salt
from marketplace.chain.revert_messages import phase_words
from marketplace.chain.structs import Phase, TaskStatus
from marketplace.errors import ContractRevert, FedmarketError, ProtocolError
from marketplace.notices import Log, Notice, Tokens
from marketplace.protocol.deadlines import overdue
from marketplace.protocol.ledger_lookup import TaskFacts, find_event, task_facts
from marketplace.protocol.payouts import claimable_rounds
from marketplace.protocol.weights import encode_weights
from marketplace.roles.tasks import MAX_STAKE, require_funds
from marketplace.storage import ContentStore
from marketplace.units import format_amount


def check_join(
    client: MarketplaceClient,
    facts: TaskFacts,
    stake: int | None,
    policy: JoinPolicy | None = None,
) -> int:
    """The stake to join ``facts``' task with, checked before anything is approved or staked.

    ``None`` means the task's minimum. The task must still take participants, its terms must
    pass this node's ``policy`` (:func:`check_terms`), the stake must be within the task's
    bounds, and the account must hold it (and some ETH for gas).
    """
    phase = client.phase(facts.task_id)
    if phase in (Phase.ENDED, Phase.CANCELLED, Phase.NONE):
        raise ProtocolError(
            f"task {facts.task_id} is {phase_words(phase)} and takes no more participants",
            hint="see `fedmarket task list`",
        )
    check_terms(client, facts.task_id, facts.params, policy or JoinPolicy())
    minimum = int(facts.params["min_stake"])
    amount = minimum if stake is None else stake
    if amount < minimum:
        raise ProtocolError(
            f"stake {format_amount(amount)} is below task {facts.task_id}'s minimum of "
            f"{format_amount(minimum)}",
            hint=f"stake at least {format_amount(minimum)} with --stake, or leave it out",
        )
    if amount > MAX_STAKE:
        raise ProtocolError(
            f"stake {format_amount(amount)} is more than a task can hold",
            hint="stake less with --stake",
        )
    require_funds(client, amount, "the stake")
    return amount


@dataclass(frozen=True)
class Submission:
    """One round's update as committed: everything needed to reveal it."""

    round: int
    cid: str
    sha256: bytes
    num_samples: int
    salt: bytes
    commitment: bytes


@dataclass(frozen=True)
class JoinPolicy:
    """What a participant accepts before it stakes: windows it can land transactions in, and
    how much of its stake one missed reveal may cost.

    A window must be at least ``latency_s`` (the time this node needs to react: train, sign,
    send) plus ``blocks`` block times of this chain, so that a transaction it sends in time
    lands in a block inside the window.
    """

    latency_s: float = 2.0
    blocks: int = 2
    max_slash_bps: int = 5_000

    def shortest_window(self, block_time_s: float) -> int:
        return math.ceil(self.latency_s + self.blocks * block_time_s)


#: The windows a participant must act in, by TaskParams key, as named in refusals.
PARTICIPANT_WINDOWS = {
    "commit_window": "commit",
    "reveal_window": "reveal",
    "claim_window": "claim",
}


def block_time(client: MarketplaceClient, sample: int = 32) -> float:
    """This chain's block time: the shortest gap between recent blocks with different times
    (a devnet mines transactions at once, in blocks sharing a timestamp; longer gaps are idle
    slots or a test's clock jumps, not a slower chain); 1 s if unknown."""
    head = int(client.w3.eth.block_number)
    times = [
        int(client.w3.eth.get_block(n)["timestamp"]) for n in range(max(0, head - sample), head + 1)
    ]
    gaps = [b - a for a, b in itertools.pairwise(times) if b > a]
    return float(min(gaps)) if gaps else 1.0


def check_terms(
    client: MarketplaceClient, task_id: int, params: Mapping[str, Any], policy: JoinPolicy
) -> None:
    """Refuse, in one line saying why, a task whose terms this participant should not accept:
    a window too short to land a transaction in, slashing above its policy, or a role it
    already has in the task (the aggregator or the arbiter cannot be a participant)."""
    me = client.address.lower()
    for role in ("aggregator", "arbiter"):
        if str(params[role]).lower() == me:
            raise ProtocolError(
                f"refusing to join task {task_id}: {client.address} is its {role}, and a "
                f"task's {role} cannot also be paid as its participant",
                hint="join with another account (--key)",
            )
    slash_bps = int(params["slash_bps"])
    if slash_bps > policy.max_slash_bps:
        raise ProtocolError(
            f"refusing to join task {task_id}: one missed reveal costs {slash_bps / 100:g} % "
            f"of the stake, above this node's limit of {policy.max_slash_bps / 100:g} %",
            hint="choose another task, or accept more with --max-slash-bps",
        )
    seconds = block_time(client)
    shortest = policy.shortest_window(seconds)
    for key, name in PARTICIPANT_WINDOWS.items():
        window = int(params[key])
        if window < shortest:
            raise ProtocolError(
                f"refusing to join task {task_id}: its {name} window of {window} s is too short "
                f"for this chain (a block every {seconds:g} s) and this node ({policy.latency_s:g} "
                f"s to react); it needs at least {shortest} s",
                hint="choose another task, or accept shorter windows with --latency",
            )


@dataclass
class NodeSummary:
    """What the node did, for the CLI's final line and the demo's table."""

    address: str
    committed: list[int] = field(default_factory=list)
    revealed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    claimed: int = 0  # tokens claimed by this run
    claimed_rounds: list[int] = field(default_factory=list)
    stake_returned: int = 0
    wound_down: bool = False


class Participation:
    """One address's chain-side part in one task: join with a stake, commit, reveal, claim.

    It trains nothing: :class:`ParticipantNode` adds local training and the polling loop, and
    the Flower integration (``fedflower``) feeds it the update a Flower ClientApp trained.
    Every on-chain step of a participant goes through here.
    """

    def __init__(
        self,
        client: MarketplaceClient,
        store: ContentStore,
        task_id: int,
        *,
        stake: int | None = None,
        policy: JoinPolicy | None = None,
        log: Log = print,
    ) -> None:
        self.client = client
        self.store = store
        self.task_id = task_id
        self.stake = stake
        self.policy = policy or JoinPolicy()
        self.log = log
        self.address = client.address
        self.summary = NodeSummary(address=self.address)
        self.facts: TaskFacts = task_facts(client, task_id)

    def ensure_joined(self) -> None:
        """Join with a stake, after checking the task's terms against this node's policy."""
        info = self.client.participant(self.task_id, self.address)
        if info["joined"]:
            return
        stake = check_join(self.client, self.facts, self.stake, self.policy)
        self.client.join(self.task_id, stake)
        self.log(Notice.of(
            "joined", "joined task {task_id} with a stake of {stake}",
            task_id=self.task_id, participant=self.address, stake=Tokens(stake),
        ))  # fmt: skip

    def round_notice(self, event: str, round_: int, text: str, **fields: object) -> Notice:
        """A notice about ``round_`` ("round 2: revealed") with this participant's fields."""
        return Notice(
            event,
            f"round {round_}: {text}",
            {"task_id": self.task_id, "round": round_, "participant": self.address, **fields},
        )

    def global_model_cid(self, round_: int) -> str:
        """The CID of the model ``round_`` starts from (its RoundOpened event)."""
        events = self.client.task_events(self.task_id, self.facts.created_block)
        opened = find_event(events, "RoundOpened", round_)
        if opened is None:
            raise ProtocolError(f"round {round_} of task {self.task_id} has no RoundOpened event")
        return str(opened.args["global_model_cid"])

    def submission(
        self, round_: int, update: Mapping[str, np.ndarray], num_samples: int
    ) -> Submission:
        """Store ``update`` (canonical bytes) and compute the commitment to it."""
        added = self.store.add(encode_weights(update))
        num_samples = min(num_samples, int(self.facts.params["max_samples"]))
        salt = self._salt(round_)
        digest = bytes.fromhex(added.sha256)
        return Submission(
            round=round_,
            cid=added.cid,
            sha256=digest,
            num_samples=num_samples,
            salt=salt,
            commitment=commitment(
                self.task_id, round_, added.cid, digest, num_samples, self.address, salt
            ),
        )

    def commit(self, submission: Submission) -> bool:
        """Commit on-chain to ``submission``; False (logged, round skipped) if refused."""
        round_ = submission.round
        try:
            self.client.commit(self.task_id, submission.commitment)
        except ContractRevert as exc:
            self.summary.skipped.append(round_)
            self.log(self.round_notice(
                "commit_refused", round_, f"commit refused ({exc}); skipping the round",
                error=exc.error_name,
            ))  # fmt: skip
            return False
        self.summary.committed.append(round_)
        self.log(self.round_notice(
            "committed", round_, f"committed update {submission.cid}", update_cid=submission.cid
        ))  # fmt: skip
        return True

    def reveal(self, submission: Submission) -> bool:
        """Reveal ``submission`` on-chain if it is what this address committed to."""
        round_ = submission.round
        mine = self.client.participant_round(self.task_id, round_, self.address)
        if mine.revealed:
            return True
        if submission.commitment != mine.commitment:
            self.summary.skipped.append(round_)
            self.log(self.round_notice(
                "reveal_skipped", round_, "cannot reproduce the committed update; not revealing"
            ))  # fmt: skip
            return False
        try:
            self.client.reveal(
                self.task_id,
                submission.cid,
                submission.sha256,
                submission.num_samples,
                submission.salt,
            )
        except ContractRevert as exc:
            self.log(self.round_notice(
                "reveal_refused", round_, f"reveal refused ({exc})", error=exc.error_name
            ))  # fmt: skip
            return False
        self.summary.revealed.append(round_)
        self.log(self.round_notice("revealed", round_, "revealed", update_cid=submission.cid))
        return True

    def wind_down_if_overdue(self) -> bool:
        """End the task if its aggregator missed a deadline (anyone may; the stake then comes
        back instead of waiting forever). True when the task was wound down."""
        late = overdue(self.client, self.task_id)
        if late is None:
            return False
        try:
            self.client.wind_down(self.task_id)
        except ContractRevert as exc:  # someone else wound it down first
            self.log(f"wind-down not needed ({exc.error_name})")
            return False
        self.summary.wound_down = True
        self.log(Notice.of(
            "wound_down", "{why}: wound the task down",
            task_id=self.task_id, round=late.round, why=late.describe(),
        ))  # fmt: skip
        return True

    def collect(self) -> None:
        """Claim every final round this address revealed in and was paid for (one transaction
        for all of them), then take the stake back (what slashing left); both idempotent."""
        info = self.client.task(self.task_id)
        if (
            info.phase_status == TaskStatus.ACTIVE
            and self.client.phase(self.task_id) == Phase.ENDED
        ):
            # The last settlement is due but not finalized (lazy): make it final, so the task
            # ends and the stake can come back.
            with contextlib.suppress(ContractRevert):  # someone else finalized first
                self.client.finalize(self.task_id)
            info = self.client.task(self.task_id)
        self._claim(info.phase_status, int(info.claim_deadline))
        me = self.client.participant(self.task_id, self.address)
        if me["joined"] and not me["withdrawn"] and info.phase_status != TaskStatus.ACTIVE:
            receipt = self.client.withdraw_stake(self.task_id)
            returned = sum(
                int(e.args["amount"])
                for e in self.client.events_in(receipt)
                if e.name == "StakeWithdrawn"
            )
            slashed = int(me["stake"]) - returned
            self.summary.stake_returned = returned
            lost = " ({slashed} slashed for unrevealed commitments)" if slashed else ""
            self.log(Notice.of(
                "stake_returned", "stake of {stake} returned" + lost,
                task_id=self.task_id, participant=self.address, stake=Tokens(returned),
                slashed=Tokens(slashed),
            ))  # fmt: skip

    def _claim(self, status: TaskStatus, claim_deadline: int) -> None:
        if status != TaskStatus.ACTIVE and self.client.chain_time() > claim_deadline:
            self.log(Notice.of(
                "claims_closed", "claims of task {task_id} closed; nothing can be claimed any more",
                task_id=self.task_id, participant=self.address,
            ))  # fmt: skip
            return
        try:
            found = claimable_rounds(self.client, self.store, self.task_id, self.address)
        except FedmarketError as exc:
            self.log(Notice.of(
                "claim_failed", "cannot compute the claim: {reason}",
                task_id=self.task_id, participant=self.address, reason=exc.user_message(),
            ))  # fmt: skip
            return
        for round_, problem in sorted(found.problems.items()):
            self.log(self.round_notice(
                "claim_skipped", round_, f"cannot claim ({problem})", problem=problem
            ))  # fmt: skip
        if not found.claims:
            return
        self.client.claim(self.task_id, found.claims)
        self.summary.claimed += found.total
        self.summary.claimed_rounds.extend(found.rounds)
        rounds = ", ".join(str(r) for r in found.rounds)
        self.log(Notice.of(
            "claimed", "claimed {amount} for round(s) {rounds}",
            task_id=self.task_id, participant=self.address, amount=Tokens(found.total),
            rounds=rounds,
        ))  # fmt: skip

    def _salt(self, round_: int) -> bytes:
        """Secret to others, reproducible by us: keccak of our (deterministic) signature."""
        assert self.client.account is not None
        return derived_salt(
            self.client.account,
            purpose="commit",
            chain_id=int(self.client.w3.eth.chain_id),
            marketplace=self.client.market.address,
            task_id=self.task_id,
            round_=round_,
        )
