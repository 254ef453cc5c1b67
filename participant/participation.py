"""A participant's on-chain part in a task, whoever trains: join, commit, reveal, claim.

Kept apart from the training node (``participant/node.py``) so that code which only moves
an update through the protocol, such as a Flower ClientApp's reveal and claim steps, imports
neither torch nor the training code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from eth_account.messages import encode_defunct
from eth_utils import keccak

from marketplace.chain.client import MarketplaceClient
from marketplace.chain.commitment import commitment
from marketplace.chain.revert_messages import phase_words
from marketplace.chain.structs import Phase, TaskStatus
from marketplace.errors import ContractRevert, FedmarketError, ProtocolError
from marketplace.notices import Log, Notice, Tokens
from marketplace.protocol.ledger_lookup import TaskFacts, find_event, task_facts
from marketplace.protocol.payouts import claim_entitlement
from marketplace.protocol.weights import encode_weights
from marketplace.roles.tasks import MAX_STAKE, require_funds
from marketplace.storage import ContentStore
from marketplace.units import format_amount


def check_join(client: MarketplaceClient, facts: TaskFacts, stake: int | None) -> int:
    """The stake to join ``facts``' task with, checked before anything is approved or staked.

    ``None`` means the task's minimum. The task must still take participants, the stake must be
    within the task's bounds, and the account must hold it (and some ETH for gas).
    """
    phase = client.phase(facts.task_id)
    if phase in (Phase.ENDED, Phase.CANCELLED, Phase.NONE):
        raise ProtocolError(
            f"task {facts.task_id} is {phase_words(phase)} and takes no more participants",
            hint="see `fedmarket task list`",
        )
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


@dataclass
class NodeSummary:
    """What the node did, for the CLI's final line and the demo's table."""

    address: str
    committed: list[int] = field(default_factory=list)
    revealed: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    claimed: int = 0
    stake_returned: int = 0


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
        log: Log = print,
    ) -> None:
        self.client = client
        self.store = store
        self.task_id = task_id
        self.stake = stake
        self.log = log
        self.address = client.address
        self.summary = NodeSummary(address=self.address)
        self.facts: TaskFacts = task_facts(client, task_id)

    def ensure_joined(self) -> None:
        info = self.client.participant(self.task_id, self.address)
        if info["joined"]:
            return
        stake = check_join(self.client, self.facts, self.stake)
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
        onchain, revealed = self.client.commitment_of(self.task_id, round_, self.address)
        if revealed:
            return True
        if submission.commitment != onchain:
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

    def collect(self) -> None:
        """Claim every token earned and take the stake back (both idempotent)."""
        if self.client.task(self.task_id).phase_status == TaskStatus.ACTIVE:
            # phase() reports the end as soon as the last challenge window passes; storage
            # (and so the claimable root) catches up when someone calls finalize.
            with contextlib.suppress(ContractRevert):  # someone else finalized first
                self.client.finalize(self.task_id)
        try:
            entitlement = claim_entitlement(self.client, self.store, self.task_id, self.address)
        except FedmarketError as exc:
            self.log(Notice.of(
                "claim_failed", "cannot compute the claim: {reason}",
                task_id=self.task_id, participant=self.address, reason=exc.user_message(),
            ))  # fmt: skip
            entitlement = None
        if entitlement is not None:
            already = self.client.claimed(self.task_id, self.address)
            if entitlement.cumulative > already:
                self.client.claim(self.task_id, entitlement.cumulative, entitlement.proof)
                self.summary.claimed = entitlement.cumulative
                self.log(Notice.of(
                    "claimed", "claimed {amount} ({cumulative} in total)",
                    task_id=self.task_id, participant=self.address,
                    amount=Tokens(entitlement.cumulative - already),
                    cumulative=Tokens(entitlement.cumulative),
                ))  # fmt: skip
            else:
                self.summary.claimed = already
        info = self.client.participant(self.task_id, self.address)
        if info["joined"] and not info["withdrawn"] and int(info["stake"]) > 0:
            stake = int(info["stake"])
            self.client.withdraw_stake(self.task_id)
            self.summary.stake_returned = stake
            self.log(Notice.of(
                "stake_returned", "stake of {stake} returned",
                task_id=self.task_id, participant=self.address, stake=Tokens(stake),
            ))  # fmt: skip

    def _salt(self, round_: int) -> bytes:
        """Secret to others, reproducible by us: keccak of our (deterministic) signature."""
        message = encode_defunct(
            text=f"fedmarket commit salt|chain {self.client.w3.eth.chain_id}|"
            f"{self.client.market.address}|task {self.task_id}|round {round_}"
        )
        assert self.client.account is not None
        signed = self.client.account.sign_message(message)
        return keccak(bytes(signed.signature))
