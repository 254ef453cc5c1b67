"""The participant node: stake, then every round train, upload, commit, reveal; claim at the end.

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
from marketplace.chain.revert_messages import phase_words
from marketplace.chain.structs import Phase, TaskStatus
from marketplace.errors import ContractRevert, FedmarketError, ProtocolError
from marketplace.notices import Notice, Tokens
from marketplace.protocol.dataset import Dataset
from marketplace.protocol.ledger_lookup import TaskFacts, find_event, task_facts
from marketplace.protocol.payouts import claim_entitlement
from marketplace.protocol.task_spec import TaskSpec, fit_to_model
from marketplace.protocol.weights import decode_weights, encode_weights
from marketplace.roles.tasks import MAX_STAKE, require_funds
from marketplace.storage import ContentStore
from marketplace.units import format_amount
from participant.behaviours import Behaviour
from participant.training import train_local
from valuation.model_spec import parameter_shapes

Log = Callable[[Notice], None]


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


class ParticipantNode:
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
        self.client = client
        self.store = store
        self.task_id = task_id
        self.behaviour = behaviour
        self.stake = stake
        self.poll_interval = poll_interval
        self.log = log
        self.progress = progress
        self.address = client.address
        self.summary = NodeSummary(address=self.address)
        self.facts: TaskFacts = task_facts(client, task_id)
        self.spec = TaskSpec.from_json(self.store.cat_bytes(self.facts.spec_cid))
        data = fit_to_model(data, self.spec.model, "the training data", f"task {task_id}")
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
            self._reveal(round_, onchain)
        elif phase == Phase.REVEAL and not committed and round_ not in self.summary.skipped:
            self.summary.skipped.append(round_)
            self.log(
                self._round_notice(
                    "round_skipped", round_, "joined too late to commit, skipping it"
                )
            )
        return True

    # -- one round -----------------------------------------------------------------------

    def prepare(self, round_: int) -> Submission | None:
        """Train on the round's global model and store the update (deterministic, cached)."""
        if round_ in self._prepared:
            return self._prepared[round_]
        events = self.client.task_events(self.task_id, self.facts.created_block)
        opened = find_event(events, "RoundOpened", round_)
        if opened is None:
            raise ProtocolError(f"round {round_} of task {self.task_id} has no RoundOpened event")
        shapes = parameter_shapes(self.spec.model)
        blob = self.store.cat_bytes(str(opened.args["global_model_cid"]))
        global_params = decode_weights(blob, shapes, max_bytes=self.spec.max_update_bytes)
        seed = self._seed(round_)
        update = self.behaviour.make_update(self._train, global_params, self.data, seed)
        if update is None:
            self._prepared[round_] = None
            return None
        encoded = encode_weights(update)
        added = self.store.add(encoded)
        num_samples = min(len(self.data), int(self.facts.params["max_samples"]))
        salt = self._salt(round_)
        digest = bytes.fromhex(added.sha256)
        submission = Submission(
            round=round_,
            cid=added.cid,
            sha256=digest,
            num_samples=num_samples,
            salt=salt,
            commitment=commitment(
                self.task_id, round_, added.cid, digest, num_samples, self.address, salt
            ),
        )
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
            self.log(
                self._round_notice(
                    "round_skipped", round_, f"not submitting ({self.behaviour.spec()})"
                )
            )
            return
        try:
            self.client.commit(self.task_id, submission.commitment)
        except ContractRevert as exc:
            self.summary.skipped.append(round_)
            self.log(self._round_notice(
                "commit_refused", round_, f"commit refused ({exc}); skipping the round",
                error=exc.error_name,
            ))  # fmt: skip
            return
        self.summary.committed.append(round_)
        self.log(
            self._round_notice(
                "committed", round_, f"committed update {submission.cid}", update_cid=submission.cid
            )
        )

    def _reveal(self, round_: int, onchain: bytes) -> None:
        submission = self.prepare(round_)
        if submission is None or submission.commitment != onchain:
            self.summary.skipped.append(round_)
            self.log(
                self._round_notice(
                    "reveal_skipped", round_, "cannot reproduce the committed update; not revealing"
                )
            )
            return
        try:
            self.client.reveal(
                self.task_id,
                submission.cid,
                submission.sha256,
                submission.num_samples,
                submission.salt,
            )
        except ContractRevert as exc:
            self.log(
                self._round_notice(
                    "reveal_refused", round_, f"reveal refused ({exc})", error=exc.error_name
                )
            )
            return
        self.summary.revealed.append(round_)
        self.log(self._round_notice("revealed", round_, "revealed", update_cid=submission.cid))

    def _round_notice(self, event: str, round_: int, text: str, **fields: object) -> Notice:
        return Notice(
            event,
            f"round {round_}: {text}",
            {"task_id": self.task_id, "round": round_, "participant": self.address, **fields},
        )

    # -- the end -------------------------------------------------------------------------

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

    # -- determinism ---------------------------------------------------------------------

    def _seed(self, round_: int) -> int:
        material = f"seed|{self.task_id}|{round_}|{self.address.lower()}".encode()
        return int.from_bytes(keccak(material)[:4], "big")

    def _salt(self, round_: int) -> bytes:
        """Secret to others, reproducible by us: keccak of our (deterministic) signature."""
        message = encode_defunct(
            text=f"fedmarket commit salt|chain {self.client.w3.eth.chain_id}|"
            f"{self.client.market.address}|task {self.task_id}|round {round_}"
        )
        assert self.client.account is not None
        signed = self.client.account.sign_message(message)
        return keccak(bytes(signed.signature))
