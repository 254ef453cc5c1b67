"""The server side of a paid Flower round: a strategy wrapper that settles rounds on-chain.

``PaidStrategy(FedAvg(...), coordinator)`` keeps what the inner Flower strategy decides
(which nodes train, with which config, federated evaluation) and replaces what the market
must be able to check: each training round becomes fedmarket's round, as messages:

1. *train and commit*: the round is opened on-chain with the current global model; each
   selected SuperNode gets the global model (and the task spec) with the on-chain round,
   trains, stores its update, commits its hash on-chain with its own key and replies with
   the commitment only;
2. *reveal*: once the commit window has closed, every node is asked to reveal; it reveals
   on-chain and sends its update's bytes. Bytes are accepted only if their sha256 and CID
   are the ones revealed on-chain by that address; accepted bytes are kept in the
   aggregator's content store (and so served to auditors by its gateway);
3. *settle*: after the reveal window the coordinator's own step runs the shared round
   computation (``marketplace.protocol.round_compute``): screening, aggregation with the
   task's aggregator, valuation, payouts, report, settlement, slashing of non-revealers.
   The new global model is the settled one, whatever the inner strategy would have made.

After the last round the task is finalised and every node is sent a claim message.

The aggregation of record is the task's (auditors recompute it without Flower), so the inner
strategy must aggregate the same way: FedAvg (or FedProx) for ``fedavg``, FedMedian for
``median``, FedTrimmedAvg for ``trimmed_mean``, Krum for ``krum``; any other is refused.
Chain writes all go through :class:`~marketplace.roles.coordinator.Coordinator.step`; this
module only reads the chain (phase, deadlines, events).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from logging import INFO, WARNING
from typing import Any

from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from flwr.serverapp import Grid
from flwr.serverapp.strategy import Result, Strategy
from flwr.supercore import log as flwr_log

from fedflower.records import CLAIM, RECORD, REVEAL, get_bytes, to_array_record
from marketplace.chain.structs import Phase, RoundStatus
from marketplace.errors import ConfigError, ProtocolError
from marketplace.protocol.ledger import Ledger
from marketplace.protocol.ledger_lookup import find_event
from marketplace.protocol.payouts import load_report
from marketplace.protocol.weights import decode_weights, sha256_hex
from marketplace.roles.coordinator import DEADLINE_MARGIN_S, Coordinator
from marketplace.storage import compute_cid
from valuation.model_spec import parameter_shapes

#: Flower strategy class name -> the fedmarket aggregator that computes the same aggregate.
AGGREGATOR_OF: dict[str, str] = {
    "FedAvg": "fedavg",
    "FedProx": "fedavg",  # FedProx changes the clients' objective, not the aggregation
    "FedMedian": "median",
    "FedTrimmedAvg": "trimmed_mean",
    "Krum": "krum",
}


@dataclass
class PaidRound:
    """What one paid round did, for the app's result and the tests."""

    round: int
    committed: list[str] = field(default_factory=list)
    accepted_bytes: list[str] = field(default_factory=list)
    rejected_bytes: list[str] = field(default_factory=list)
    report_cid: str = ""
    new_global_cid: str = ""
    accuracy: float | None = None
    total_paid: int = 0


class PaidStrategy(Strategy):
    """Wraps ``inner`` so that every round is committed, revealed, valued and paid on-chain."""

    def __init__(
        self,
        inner: Strategy,
        coordinator: Coordinator,
        *,
        poll_interval: float = 0.5,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.inner = inner
        self.coordinator = coordinator
        self.client = coordinator.client
        self.store = coordinator.store
        self.task_id = coordinator.task_id
        self.spec = coordinator.spec
        self.poll_interval = poll_interval
        self.log = log or (lambda line: flwr_log(INFO, "[fedmarket] %s", line))
        self.rounds: dict[int, PaidRound] = {}
        self.claims: dict[str, dict[str, Any]] = {}
        self._round = 0
        self._train_nodes: list[int] = []
        self._all_nodes: set[int] = set()
        self._grid: Grid | None = None
        self._check_aggregation()

    @classmethod
    def from_run_config(cls, inner: Strategy, run_config: dict[str, Any]) -> PaidStrategy:
        """Build from the Flower run config: ``task-id``, ``aggregator-key``,
        ``validation-path`` and optionally ``rpc-url``, ``marketplace`` (the keystore password
        and FEDMARKET_HOME come from the ServerApp's environment)."""
        from marketplace.chain.factory import make_client
        from marketplace.protocol.dataset import load_npz
        from marketplace.settings import Settings
        from marketplace.storage import open_store

        try:
            task_id = int(run_config["task-id"])
            key = str(run_config["aggregator-key"])
            validation_path = str(run_config["validation-path"])
        except KeyError as exc:
            raise ConfigError(f"the run config lacks {exc.args[0]!r}") from exc
        settings = Settings.from_env()
        client = make_client(
            settings,
            key=key,
            rpc_url=str(run_config.get("rpc-url") or "") or None,
            marketplace=str(run_config.get("marketplace") or "") or None,
        )
        coordinator = Coordinator(
            client,
            open_store(settings),
            task_id,
            load_npz(validation_path),
            log=lambda line: flwr_log(INFO, "[coordinator] %s", line),
        )
        return cls(inner, coordinator)

    # -- what the market fixes ------------------------------------------------------------

    def _check_aggregation(self) -> None:
        name = type(self.inner).__name__
        expected = AGGREGATOR_OF.get(name)
        if expected != self.spec.aggregator:
            raise ConfigError(
                f"task {self.task_id} aggregates with {self.spec.aggregator!r}; a {name} "
                "strategy aggregates differently, so its rounds could not be paid or audited",
                hint="wrap the Flower strategy matching the task's aggregator "
                + ", ".join(f"{k} for {v}" for k, v in AGGREGATOR_OF.items()),
            )
        if expected == "trimmed_mean":
            beta = float(self.spec.aggregator_params.get("beta", 0.1))
            if abs(float(getattr(self.inner, "beta", beta)) - beta) > 1e-12:
                raise ConfigError(f"the task trims beta={beta}, the strategy another fraction")

    def initial_arrays(self) -> ArrayRecord:
        """The model the next on-chain round starts from (the task's initial one at first)."""
        return to_array_record(self._params(self.coordinator.current_global_cid()))

    def _params(self, cid: str) -> dict[str, Any]:
        shapes = parameter_shapes(self.spec.model)
        return decode_weights(
            self.store.cat_bytes(cid), shapes, max_bytes=self.spec.max_update_bytes
        )

    # -- Strategy ------------------------------------------------------------------------

    def summary(self) -> None:
        self.log(f"paid rounds of task {self.task_id} ({self.spec.aggregator}), inner strategy:")
        self.inner.summary()

    def start(
        self,
        grid: Grid,
        initial_arrays: ArrayRecord | None = None,
        num_rounds: int = 3,
        timeout: float = 3600,
        train_config: ConfigRecord | None = None,
        evaluate_config: ConfigRecord | None = None,
        evaluate_fn: Callable[[int, ArrayRecord], MetricRecord | None] | None = None,
    ) -> Result:
        """Flower's round loop, replies to ``train`` awaited no longer than the commit
        window; then the task is finalised and every node claims."""
        self._grid = grid
        commit_window = float(self.coordinator.facts.params["commit_window"])
        result = super().start(
            grid,
            initial_arrays if initial_arrays is not None else self.initial_arrays(),
            num_rounds=num_rounds,
            timeout=min(timeout, commit_window),
            train_config=train_config,
            evaluate_config=evaluate_config,
            evaluate_fn=evaluate_fn,
        )
        self.finish(grid, timeout=min(timeout, 600.0))
        return result

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        self._grid = grid
        global_cid = self.coordinator.current_global_cid()
        onchain_arrays = to_array_record(self._params(global_cid))
        messages = list(self.inner.configure_train(server_round, onchain_arrays, config, grid))
        round_ = self._open_round()  # after sampling: waiting for nodes eats no commit window
        opened = find_event(self._events(), "RoundOpened", round_)
        if opened is None:
            raise ProtocolError(f"round {round_} is open but has no RoundOpened event")
        if str(opened.args["global_model_cid"]) != global_cid:  # a challenge voided a round
            global_cid = str(opened.args["global_model_cid"])
            onchain_arrays = to_array_record(self._params(global_cid))
            for message in messages:
                for key in list(message.content.array_records):
                    message.content[key] = onchain_arrays
        facts = ConfigRecord(
            {
                "task-id": self.task_id,
                "round": round_,
                "global-model-cid": global_cid,
                "spec-cid": self.coordinator.facts.spec_cid,
                "spec": self.store.cat_bytes(self.coordinator.facts.spec_cid),
            }
        )
        for message in messages:
            message.content[RECORD] = facts
        self._round = round_
        self._train_nodes = [m.metadata.dst_node_id for m in messages]
        self._all_nodes.update(self._train_nodes)
        self.rounds[round_] = PaidRound(round_)
        self.log(f"round {round_}: opened on-chain, {len(messages)} node(s) asked to train")
        return messages

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        round_ = self._round
        paid = self.rounds[round_]
        for reply in replies:
            if reply.has_error():
                self.log(f"round {round_}: node {reply.metadata.src_node_id} failed: "
                         f"{reply.error.reason}")  # fmt: skip
                continue
            facts = reply.content.config_records.get(RECORD)
            if facts is not None and facts.get("committed"):
                onchain, _ = self.client.commitment_of(self.task_id, round_, str(facts["address"]))
                if bytes(onchain) == get_bytes(facts, "commitment"):
                    paid.committed.append(str(facts["address"]))
        self.log(f"round {round_}: {len(paid.committed)} commitment(s) on-chain")
        self._reveal_and_keep(round_, paid)
        self._advance(
            lambda: self.client.round(self.task_id, round_).round_status != RoundStatus.OPEN,
            what=f"round {round_} to settle",
        )
        settled = find_event(self._events(), "RoundSettled", round_)
        if settled is None:
            raise ProtocolError(f"round {round_} left the open state without a settlement")
        paid.report_cid = str(settled.args["report_cid"])
        paid.new_global_cid = str(settled.args["new_global_cid"])
        report = load_report(self.store, paid.report_cid)
        paid.accuracy, paid.total_paid = report.accuracy, report.total_paid
        metrics = MetricRecord(
            {
                "accuracy": float(report.accuracy or 0.0),
                "paid-tokens": report.total_paid / 10**18,
                "accepted-updates": sum(s.status == "accepted" for s in report.submissions),
                "committed": len(paid.committed),
            }
        )
        return to_array_record(self._params(paid.new_global_cid)), metrics

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        return self.inner.configure_evaluate(server_round, arrays, config, grid)

    def aggregate_evaluate(
        self, server_round: int, replies: Iterable[Message]
    ) -> MetricRecord | None:
        return self.inner.aggregate_evaluate(server_round, replies)

    # -- the paid steps ------------------------------------------------------------------

    def _reveal_and_keep(self, round_: int, paid: PaidRound) -> None:
        """After the commit window: ask every node to reveal; keep the bytes that match."""
        self._advance(
            lambda: self.client.phase(self.task_id) != Phase.COMMIT, what="the commit window"
        )
        info = self.client.round(self.task_id, round_)
        left = int(info.reveal_deadline) - self.client.chain_time() - DEADLINE_MARGIN_S
        if left <= 0 or not self._train_nodes:
            return
        assert self._grid is not None
        content = RecordDict({RECORD: ConfigRecord({"task-id": self.task_id, "round": round_})})
        messages = [
            Message(content, dst_node_id=node, message_type=REVEAL) for node in self._train_nodes
        ]
        replies = list(self._grid.send_and_receive(messages, timeout=float(left)))
        ledger = Ledger.from_events(self.task_id, self._events())
        revealed = {p.lower(): r for p, r in ledger.round(round_).reveals.items()}
        for reply in replies:
            facts = None if reply.has_error() else reply.content.config_records.get(RECORD)
            if facts is None or not facts.get("revealed"):
                continue
            address, blob = str(facts["address"]), facts.get("update")
            reveal = revealed.get(address.lower())
            if not isinstance(blob, bytes) or reveal is None:
                paid.rejected_bytes.append(address)
                continue
            sha = str(reveal["sha256"]).removeprefix("0x").lower()
            if sha256_hex(blob) != sha or str(compute_cid(blob)) != str(reveal["cid"]):
                paid.rejected_bytes.append(address)
                self.log(f"round {round_}: {address} sent bytes that are not its reveal; dropped")
                continue
            self.store.add(blob)  # pinned: the aggregator keeps what it valued, for auditors
            paid.accepted_bytes.append(address)
        self.log(
            f"round {round_}: kept {len(paid.accepted_bytes)} revealed update(s), "
            f"dropped {len(paid.rejected_bytes)}"
        )

    def finish(self, grid: Grid, *, timeout: float = 600) -> None:
        """Finalise the task on-chain, then have every node that trained claim."""
        self._advance(
            lambda: self.client.phase(self.task_id) == Phase.ENDED,
            what="the task to end",
            timeout=timeout,
        )
        # Every settled round's report: a claim needs the final one, which nodes may lack.
        settled = [e for e in self._events() if e.name == "RoundSettled"]
        cids = [str(e.args["report_cid"]) for e in settled]
        facts: dict[str, Any] = {
            "task-id": self.task_id,
            "report-cids": cids,
            "reports": [self.store.cat_bytes(cid) for cid in cids],
        }
        content = RecordDict({RECORD: ConfigRecord(facts)})
        # Every node that was asked to train gets a claim step; a node that is away (its
        # link down, restarting) is asked again when it is back, until ``timeout``.
        pending = set(self._all_nodes) or set(grid.get_node_ids())
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            online = pending & set(grid.get_node_ids())
            if not online:
                time.sleep(self.poll_interval * 4)
                continue
            messages = [Message(content, dst_node_id=node, message_type=CLAIM) for node in online]
            wait = min(120.0, max(1.0, deadline - time.monotonic()))
            for reply in grid.send_and_receive(messages, timeout=wait):
                if reply.has_error():
                    flwr_log(WARNING, "[fedmarket] claim failed on node %s: %s",
                             reply.metadata.src_node_id, reply.error.reason)  # fmt: skip
                    continue
                pending.discard(reply.metadata.src_node_id)
                facts_back = reply.content.config_records[RECORD]
                self.claims[str(facts_back["address"])] = dict(facts_back)
        if pending:
            flwr_log(WARNING, "[fedmarket] %d node(s) never came back to claim", len(pending))
        self.log(f"task {self.task_id} ended; {len(self.claims)} node(s) claimed")

    # -- chain reads ---------------------------------------------------------------------

    def _open_round(self) -> int:
        """Step the coordinator until a new round is open for commits; its number."""
        before = int(self.client.task(self.task_id).last_round)
        self._advance(
            lambda: (
                self.client.phase(self.task_id) == Phase.COMMIT
                and int(self.client.task(self.task_id).last_round) > before
            ),
            what="the next round to open",
        )
        return int(self.client.task(self.task_id).last_round)

    def _advance(self, done: Callable[[], bool], *, what: str, timeout: float = 3600) -> None:
        """Run the coordinator's step (open, settle, slash, finalise) until ``done()``."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise ProtocolError(f"gave up waiting for {what} after {timeout:.0f}s")
            self.coordinator.step()
            if not done():
                time.sleep(self.poll_interval)

    def _events(self) -> list[Any]:
        return self.client.task_events(self.task_id, self.coordinator.facts.created_block)


__all__ = ["AGGREGATOR_OF", "PaidRound", "PaidStrategy"]
