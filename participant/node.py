"""The participant node: stake, then every round train, upload, commit, reveal; claim at the end.

:class:`Participation` holds the on-chain steps (join, commit, reveal, claim) that any
participant runs, whoever trains; :class:`ParticipantNode` adds training and the loop.

The node keeps no state of its own that the chain and IPFS cannot rebuild. Its update for a
round is a deterministic function of (global model, its data, the round), and its salt is
derived from a signature of its own key over (chain, marketplace, task, round), so a node killed
at any point and started again recomputes the very same commitment: it never commits twice and
can still reveal what it committed before the crash.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from eth_account.messages import encode_defunct
from eth_utils import keccak

from marketplace.chain.client import MarketplaceClient
from marketplace.chain.commitment import commitment
from marketplace.chain.structs import Phase, TaskStatus
from marketplace.errors import ContractRevert, FedmarketError, ProtocolError
from marketplace.protocol.dataset import Dataset
from marketplace.protocol.ledger_lookup import TaskFacts, find_event, task_facts
from marketplace.protocol.payouts import claim_entitlement
from marketplace.protocol.task_spec import TaskSpec
from marketplace.protocol.weights import decode_weights, encode_weights
from marketplace.storage import ContentStore
from participant.behaviours import Behaviour
from participant.training import train_local
from valuation.model_spec import parameter_shapes

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


class ParticipantNode(Participation):
    """Runs one address's part in one task until the task ends."""

    def __init__(
        self,
        client: MarketplaceClient,
        store: ContentStore,
        task_id: int,
        data: Dataset,
        behaviour: Behaviour,
        *,
        stake: int | None = None,
        poll_interval: float = 0.25,
        log: Log = print,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        super().__init__(client, store, task_id, stake=stake, log=log)
        self.behaviour = behaviour
        self.poll_interval = poll_interval
        self.progress = progress
        self.spec = TaskSpec.from_json(self.store.cat_bytes(self.facts.spec_cid))
        self.data = behaviour.prepare_data(data, seed=self._seed(0))
        self._prepared: dict[int, Submission | None] = {}
        self._warm_up()

    def _warm_up(self) -> None:
        """Train once on a few samples so the first round pays no one-off torch start-up cost
        inside its commit window."""
        from participant.training import initial_params

        few = min(len(self.data), 8)
        train_local(
            self.spec.model,
            initial_params(self.spec.model, 0),
            self.data.X[:few],
            self.data.y[:few],
            epochs=1,
            lr=self.spec.training.lr,
            batch_size=few,
        )

    # -- the loop ------------------------------------------------------------------------

    def run(self, *, timeout: float | None = None) -> NodeSummary:
        """Take part until the task ends (or ``timeout`` seconds pass), then collect."""
        started = time.monotonic()
        self.ensure_joined()
        while self.step():
            if timeout is not None and time.monotonic() - started > timeout:
                raise ProtocolError(f"participant gave up after {timeout:.0f}s")
            time.sleep(self.poll_interval)
        self.collect()
        return self.summary

    def step(self) -> bool:
        """Act once on the task's current phase; False once the task is over."""
        phase = self.client.phase(self.task_id)
        if phase in (Phase.ENDED, Phase.CANCELLED):
            return False
        if phase not in (Phase.COMMIT, Phase.REVEAL):
            return True
        round_ = int(self.client.task(self.task_id).last_round)
        onchain, revealed = self.client.commitment_of(self.task_id, round_, self.address)
        committed = onchain != bytes(32)
        if phase == Phase.COMMIT and not committed and round_ not in self.summary.skipped:
            self._commit(round_)
        elif phase == Phase.REVEAL and committed and not revealed:
            self._reveal(round_)
        elif phase == Phase.REVEAL and not committed and round_ not in self.summary.skipped:
            self.summary.skipped.append(round_)
            self.log(f"round {round_}: joined too late to commit, skipping it")
        return True

    # -- one round -----------------------------------------------------------------------

    def prepare(self, round_: int) -> Submission | None:
        """Train on the round's global model and store the update (deterministic, cached)."""
        if round_ in self._prepared:
            return self._prepared[round_]
        shapes = parameter_shapes(self.spec.model)
        blob = self.store.cat_bytes(self.global_model_cid(round_))
        global_params = decode_weights(blob, shapes, max_bytes=self.spec.max_update_bytes)
        seed = self._seed(round_)
        update = self.behaviour.make_update(self._train, global_params, self.data, seed)
        submission = None if update is None else self.submission(round_, update, len(self.data))
        self._prepared[round_] = submission
        return submission

    def _train(
        self, global_params: Mapping[str, np.ndarray], ds: Dataset, seed: int
    ) -> dict[str, np.ndarray]:
        t = self.spec.training
        return train_local(
            self.spec.model,
            global_params,
            ds.X,
            ds.y,
            epochs=t.epochs,
            lr=t.lr,
            batch_size=t.batch_size,
            seed=seed,
            optimizer=t.optimizer,
            progress=self.progress,
        )

    def _commit(self, round_: int) -> None:
        submission = self.prepare(round_)
        if submission is None:
            self.summary.skipped.append(round_)
            self.log(f"round {round_}: not submitting ({self.behaviour.spec()})")
            return
        self.commit(submission)

    def _reveal(self, round_: int) -> None:
        submission = self.prepare(round_)
        if submission is None:
            self.summary.skipped.append(round_)
            self.log(f"round {round_}: cannot reproduce the committed update; not revealing")
            return
        self.reveal(submission)

    # -- determinism ---------------------------------------------------------------------

    def _seed(self, round_: int) -> int:
        material = f"seed|{self.task_id}|{round_}|{self.address.lower()}".encode()
        return int.from_bytes(keccak(material)[:4], "big")
