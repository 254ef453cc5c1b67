"""The participant node: stake, then every round train, upload, commit, reveal; claim at the end.

:class:`~participant.participation.Participation` holds the on-chain steps (join, commit,
reveal, claim) that any participant runs, whoever trains; :class:`ParticipantNode` adds
training and the loop.

The node keeps no state of its own that the chain and IPFS cannot rebuild. Its update for a
round is a deterministic function of (global model, its data, the round), and its salt is
derived from a signature of its own key over (chain, marketplace, task, round), so a node killed
at any point and started again recomputes the very same commitment: it never commits twice and
can still reveal what it committed before the crash.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import numpy as np
from eth_utils import keccak

from marketplace.chain.client import MarketplaceClient
from marketplace.chain.structs import Phase
from marketplace.errors import ProtocolError
from marketplace.protocol.dataset import Dataset
from marketplace.protocol.task_spec import TaskSpec, fit_to_model
from marketplace.protocol.weights import decode_weights
from marketplace.storage import ContentStore
from participant.behaviours import Behaviour
from participant.participation import JoinPolicy, Log, NodeSummary, Participation, Submission
from participant.training import train_local
from valuation.model_spec import parameter_shapes

__all__ = ["JoinPolicy", "Log", "NodeSummary", "ParticipantNode", "Participation", "Submission"]


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
        policy: JoinPolicy | None = None,
        poll_interval: float = 0.25,
        log: Log = print,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        super().__init__(client, store, task_id, stake=stake, policy=policy, log=log)
        self.behaviour = behaviour
        self.poll_interval = poll_interval
        self.progress = progress
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

    def step(self) -> bool:
        """Act once on the task's current phase; False once the task is over.

        While it waits for the aggregator (to open a round or settle one), it checks that no
        deadline was missed; if one was, it winds the task down, so its stake comes back.
        """
        phase = self.client.phase(self.task_id)
        if phase in (Phase.ENDED, Phase.CANCELLED):
            return False
        if phase in (Phase.CREATED, Phase.FINAL, Phase.SETTLE):
            return not self.wind_down_if_overdue()
        if phase not in (Phase.COMMIT, Phase.REVEAL):
            return True
        round_ = int(self.client.task(self.task_id).last_round)
        mine = self.client.participant_round(self.task_id, round_, self.address)
        committed, revealed = mine.committed, mine.revealed
        if phase == Phase.COMMIT and not committed and round_ not in self.summary.skipped:
            self._commit(round_)
        elif phase == Phase.REVEAL and committed and not revealed:
            self._reveal(round_)
        elif phase == Phase.REVEAL and not committed and round_ not in self.summary.skipped:
            self.summary.skipped.append(round_)
            self.log(self.round_notice("round_skipped", round_, "joined too late to commit"))
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
            self.log(self.round_notice(
                "round_skipped", round_, f"not submitting ({self.behaviour.spec()})"
            ))  # fmt: skip
            return
        self.commit(submission)

    def _reveal(self, round_: int) -> None:
        submission = self.prepare(round_)
        if submission is None:
            self.summary.skipped.append(round_)
            self.log(self.round_notice(
                "reveal_skipped", round_, "cannot reproduce the committed update; not revealing"
            ))  # fmt: skip
            return
        self.reveal(submission)

    # -- determinism ---------------------------------------------------------------------

    def _seed(self, round_: int) -> int:
        material = f"seed|{self.task_id}|{round_}|{self.address.lower()}".encode()
        return int.from_bytes(keccak(material)[:4], "big")
