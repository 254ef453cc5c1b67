"""A participant's on-chain part in a task, whoever trains: join, commit, reveal, claim.

Kept apart from the training node (``participant/node.py``) so that code which only moves
an update through the protocol, such as a Flower ClientApp's reveal and claim steps, imports
neither torch nor the training code.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from eth_account.messages import encode_defunct
from eth_utils import keccak

from marketplace.chain.client import MarketplaceClient
from marketplace.chain.commitment import commitment
from marketplace.chain.structs import Phase, TaskStatus
from marketplace.errors import ContractRevert, FedmarketError, ProtocolError
from marketplace.protocol.ledger_lookup import TaskFacts, find_event, task_facts
from marketplace.protocol.payouts import claim_entitlement
from marketplace.protocol.weights import encode_weights
from marketplace.storage import ContentStore

Log = Callable[[str], None]


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
        phase = self.client.phase(self.task_id)
        if phase in (Phase.ENDED, Phase.CANCELLED, Phase.NONE):
            raise ProtocolError(f"task {self.task_id} is not open for joining ({phase.name})")
        stake = self.stake if self.stake is not None else int(self.facts.params["min_stake"])
        self.client.join(self.task_id, stake)
        self.log(f"joined task {self.task_id} with stake {stake}")

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
            self.log(f"round {round_}: commit refused ({exc.error_name}); skipping the round")
            return False
        self.summary.committed.append(round_)
        self.log(f"round {round_}: committed update {submission.cid}")
        return True

    def reveal(self, submission: Submission) -> bool:
        """Reveal ``submission`` on-chain if it is what this address committed to."""
        round_ = submission.round
        onchain, revealed = self.client.commitment_of(self.task_id, round_, self.address)
        if revealed:
            return True
        if submission.commitment != onchain:
            self.summary.skipped.append(round_)
            self.log(f"round {round_}: cannot reproduce the committed update; not revealing")
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
            self.log(f"round {round_}: reveal refused ({exc.error_name})")
            return False
        self.summary.revealed.append(round_)
        self.log(f"round {round_}: revealed")
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
            self.log(f"cannot compute the claim: {exc.user_message()}")
            entitlement = None
        if entitlement is not None:
            already = self.client.claimed(self.task_id, self.address)
            if entitlement.cumulative > already:
                self.client.claim(self.task_id, entitlement.cumulative, entitlement.proof)
                self.summary.claimed = entitlement.cumulative
                self.log(f"claimed {entitlement.cumulative - already} token units")
            else:
                self.summary.claimed = already
        info = self.client.participant(self.task_id, self.address)
        if info["joined"] and not info["withdrawn"] and int(info["stake"]) > 0:
            stake = int(info["stake"])
            self.client.withdraw_stake(self.task_id)
            self.summary.stake_returned = stake
            self.log(f"stake of {stake} returned")

    def _salt(self, round_: int) -> bytes:
        """Secret to others, reproducible by us: keccak of our (deterministic) signature."""
        message = encode_defunct(
            text=f"fedmarket commit salt|chain {self.client.w3.eth.chain_id}|"
            f"{self.client.market.address}|task {self.task_id}|round {round_}"
        )
        assert self.client.account is not None
        signed = self.client.account.sign_message(message)
        return keccak(bytes(signed.signature))
