"""Where a round's time goes — training, storage, chain, valuation — on a real Anvil.

For n = 5, 10 and 20 participants (digits, Dirichlet non-IID, MLP 64-64-10) it plays rounds
with in-process participant nodes and coordinator on a fresh Anvil, skipping the commit and
reveal windows with ``evm_increaseTime`` (waiting is not work), and attributes wall time to:
training (local SGD), storage (adding and reading blobs), chain (transactions and calls),
valuation (coalition utilities, Shapley, allocation); the rest is "other" (decoding, screening,
aggregation, reports). It also runs 10 rounds at n = 10 and compares the global accuracy with
centralised training on the union of the participants' data for the same number of epochs.

Targets: chain + storage under 10 % of the round at n = 10; federated accuracy after 10 rounds
within 2 points of centralised. The round's *work* on digits is tiny (a participant trains for
~10 ms), so per-transaction latency dominates it; the fraction is also given against the wall
clock of a demo round, which waits out its commit, reveal and challenge windows.

With ``--multihost`` it adds two rows for the same small task (3 participants, 8 s commit
and reveal windows) played by real `fedmarket join`/`coordinate` processes: once in a single
home on loopback, once on separate hosts in Linux network namespaces with every artifact
fetched through gateways (root only; the row says why when it cannot run). Each row gives the
wall clock per round (opening to settlement, in block time), the aggregator's time after the
reveal window (fetching, valuing, settling) and, across hosts, the bytes sent over the hosts'
links (JSON-RPC and gateways, whole task) per round.

Tasks have an arbiter (dev account 0) and a 1-token settle bond posted by the coordinator's
first ``open_round``. Last run (``--sizes 5,10 --rounds 2 --accuracy-rounds 3``): chain +
storage 75.9 % at n = 5 and 65.9 % at n = 10 (target < 10 %): figures in bench/README.md.

    python bench/rounds.py [--json] [--sizes 5,10,20] [--rounds 2] [--multihost]
    python bench/rounds.py --sizes "" --multihost      # only the two layouts
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import marketplace.protocol.round_compute as round_compute
import participant.node as node_module
from devnet import manager
from devnet.accounts import dev_account
from devnet.faucet import fund
from devnet.process import free_port
from marketplace.chain.client import MarketplaceClient
from marketplace.chain.deployments import Deployments
from marketplace.chain.rpc import connect
from marketplace.chain.transactor import Transactor
from marketplace.protocol.dataset import dataset_sha256
from marketplace.protocol.task_spec import TaskSpec, TrainingConfig, ValuationConfig
from marketplace.roles.coordinator import Coordinator
from marketplace.roles.tasks import Windows, create_task
from marketplace.settings import Settings
from marketplace.storage import EmbeddedStore
from participant.behaviours import Honest
from participant.data import dirichlet_partition, load_digits, train_validation_split
from participant.node import ParticipantNode
from participant.training import evaluate, initial_params, train_local
from valuation.model_spec import ModelSpec

TOKEN = 10**18
#: Dev accounts by role (tests/fmkit.py's convention); participants from 3 on.
ARBITER, REQUESTER, AGGREGATOR, FIRST_PARTICIPANT = 0, 1, 2, 3
MODEL = ModelSpec("mlp", (64,), 10, hidden=(64, 64))
# The local schedule docs/training.md measured closest to centralised training on digits.
TRAINING = TrainingConfig(epochs=10, lr=0.2, batch_size=64, optimizer="momentum")
WINDOWS = Windows(commit=30, reveal=30, settle=3600, challenge=30, resolve=30, claim=3600)
#: Seconds a demo round spends in its commit, reveal and challenge windows (DemoConfig).
DEMO_WINDOWS_S = 8 + 5 + 2


class Clock:
    """Accumulates wall time per category; nested timers count only in the outermost."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self._depth = 0

    @contextmanager
    def measure(self, category: str) -> Iterator[None]:
        outer = self._depth == 0
        self._depth += 1
        start = time.perf_counter()
        try:
            yield
        finally:
            self._depth -= 1
            if outer:
                self.totals[category] += time.perf_counter() - start

    def wrap(self, owner: Any, name: str, category: str) -> Callable[[], None]:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            with self.measure(category):
                return original(*args, **kwargs)

        setattr(owner, name, timed)
        return lambda: setattr(owner, name, original)


def play(
    n: int,
    rounds: int,
    deployments: Deployments,
    store: EmbeddedStore,
    seed: int = 0,
    clock: Clock | None = None,
) -> dict[str, Any]:
    """Create a task and play ``rounds`` rounds; returns accuracies and the shards used."""
    w3 = connect(deployments.rpc_url)
    market, token = deployments.marketplace, deployments.token
    train, validation = train_validation_split(load_digits(), 0.2, seed=seed)
    parts = dirichlet_partition(train.y, n, 0.5, seed=seed)
    shards = [train.subset(np.sort(p)) for p in parts]
    spec = TaskSpec(
        "bench",
        MODEL,
        dataset_sha256(validation),
        len(validation),
        training=TRAINING,
        valuation=ValuationConfig(),
    )
    requester = MarketplaceClient(w3, market, token, dev_account(REQUESTER))
    created = create_task(
        requester,
        store,
        spec,
        aggregator=dev_account(AGGREGATOR).address,
        arbiter=dev_account(ARBITER).address,
        rounds=rounds,
        round_budget=100 * TOKEN,
        min_stake=TOKEN,
        windows=WINDOWS,
        settle_bond=TOKEN,  # posted by the coordinator's first open_round
    )
    nodes = []
    for i, shard in enumerate(shards):
        account = dev_account(FIRST_PARTICIPANT + i)
        if requester.balance(account.address) < TOKEN:  # the devnet funds accounts 0-9 only
            fund(w3, deployments, account.address, tokens=100, eth=10)
        client = requester.with_account(account)
        node = ParticipantNode(client, store, created.task_id, shard, Honest(), log=lambda _m: None)
        node.ensure_joined()
        nodes.append(node)
    coord = Coordinator(
        requester.with_account(dev_account(AGGREGATOR)),
        store,
        created.task_id,
        validation,
        log=lambda _m: None,
    )

    def advance(seconds: int) -> None:
        w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    accuracies, round_times = [], []
    setup = dict(clock.totals) if clock else {}
    for _ in range(rounds):
        start = time.perf_counter()
        coord.step()
        for node in nodes:
            node.step()
        advance(WINDOWS.commit + 1)
        for node in nodes:
            node.step()
        advance(WINDOWS.reveal + 1)
        coord.step()
        round_times.append(time.perf_counter() - start)
        advance(WINDOWS.challenge + 1)
        outcome = coord.summary.settled[max(coord.summary.settled)]
        accuracies.append(outcome.accuracy)
    return {
        "accuracies": accuracies,
        "round_times": round_times,
        "shards": shards,
        "validation": validation,
        "setup": setup,
    }


def centralised_accuracy(shards: list[Any], validation: Any, epochs: int, seed: int = 0) -> float:
    X = np.concatenate([s.X for s in shards])
    y = np.concatenate([s.y for s in shards])
    params = initial_params(MODEL, 0)
    update = train_local(
        MODEL,
        params,
        X,
        y,
        epochs=epochs,
        lr=TRAINING.lr,
        batch_size=TRAINING.batch_size,
        seed=seed,
        optimizer=TRAINING.optimizer,
    )
    trained = {k: params[k] + update[k] for k in params}
    return evaluate(MODEL, trained, validation.X, validation.y)[0]


def run(sizes: list[int], rounds: int, accuracy_rounds: int) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="fedmarket-rounds-"))
    settings = Settings(home=home)
    up = manager.up(settings, port=free_port())
    store = EmbeddedStore(settings.store_dir)
    d = up.deployments
    out: dict[str, Any] = {"rounds_per_size": rounds, "sizes": {}}
    try:
        for n in sizes:
            clock = Clock()
            restore = [
                clock.wrap(node_module, "train_local", "training"),
                clock.wrap(EmbeddedStore, "add", "storage"),
                clock.wrap(EmbeddedStore, "cat_bytes", "storage"),
                clock.wrap(Transactor, "transact", "chain"),
                clock.wrap(MarketplaceClient, "phase", "chain"),
                clock.wrap(MarketplaceClient, "task", "chain"),
                clock.wrap(MarketplaceClient, "round", "chain"),
                clock.wrap(MarketplaceClient, "participant_round", "chain"),
                clock.wrap(MarketplaceClient, "chain_time", "chain"),
                clock.wrap(MarketplaceClient, "open_round", "chain"),
                clock.wrap(MarketplaceClient, "finalize", "chain"),
                clock.wrap(MarketplaceClient, "participant", "chain"),
                clock.wrap(MarketplaceClient, "task_events", "chain"),
                clock.wrap(round_compute, "value_round", "valuation"),
            ]
            try:
                played = play(n, rounds, d, store, clock=clock)
            finally:
                for undo in restore:
                    undo()
            total = sum(played["round_times"])
            setup = played["setup"]
            parts = {
                k: clock.totals[k] - setup.get(k, 0.0)
                for k in ("training", "storage", "chain", "valuation")
            }
            parts["other"] = max(0.0, total - sum(parts.values()))
            out["sizes"][str(n)] = {
                "round_s": total / rounds,
                **{f"{k}_s": v / rounds for k, v in parts.items()},
                "chain_plus_storage_fraction": (parts["chain"] + parts["storage"]) / total,
                # A round as users live it also waits out the demo's commit, reveal and
                # challenge windows; the same chain + storage time against that wall clock:
                "chain_plus_storage_fraction_of_wall_round": (parts["chain"] + parts["storage"])
                / rounds
                / (total / rounds + DEMO_WINDOWS_S),
            }
        acc = play(10, accuracy_rounds, d, store, seed=1)
        central = centralised_accuracy(
            acc["shards"], acc["validation"], epochs=accuracy_rounds * TRAINING.epochs, seed=1
        )
        out["accuracy"] = {
            "rounds": accuracy_rounds,
            "participants": 10,
            "federated": acc["accuracies"][-1],
            "centralised": central,
            "gap_points": 100 * (central - acc["accuracies"][-1]),
        }
    finally:
        manager.down(settings)
    return out


MULTIHOST_WINDOWS = (8, 8)  # commit, reveal seconds


def multihost(rounds: int) -> dict[str, Any]:
    """The same task in one home and across network namespaces (see the module docstring)."""
    tests = Path(__file__).resolve().parent.parent / "tests"
    sys.path.insert(0, str(tests))
    from federation_kit import play_native
    from hostkit import Cluster, netns_unavailable

    commit, reveal = MULTIHOST_WINDOWS
    layouts = {
        "single-home": (["all"], False),
        "multi-host": (["chain", "agg", "p0", "p1", "p2"], True),
    }
    out: dict[str, Any] = {"rounds": rounds, "commit_s": commit, "reveal_s": reveal}
    for layout, (names, netns) in layouts.items():
        if netns and (reason := netns_unavailable()):
            out[layout] = {"skipped": reason}
            continue
        cluster = Cluster(Path(tempfile.mkdtemp(prefix=f"fedmarket-{layout}-")), names, netns=netns)
        try:
            before = cluster.traffic()
            played = play_native(cluster, rounds=rounds, commit=commit, reveal=reveal)
            moved = cluster.traffic() - before
        finally:
            cluster.close()
        events = played["state"]["events"]
        opened = {e["round"]: e["time"] for e in events if e["name"] == "RoundOpened"}
        settled = {e["round"]: e["time"] for e in events if e["name"] == "RoundSettled"}
        spans = [settled[r] - opened[r] for r in sorted(settled)]
        out[layout] = {
            "round_s": sum(spans) / len(spans),
            "after_reveal_s": sum(s - commit - reveal for s in spans) / len(spans),
            "coordinator_s": played["coordinator_s"],
            "bytes_between_hosts_per_round": moved / rounds if netns else None,
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--sizes", default="5,10,20")
    parser.add_argument("--rounds", type=int, default=2, help="rounds timed per size")
    parser.add_argument("--accuracy-rounds", type=int, default=10)
    parser.add_argument("--multihost", action="store_true", help="add the multi-host rows")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",") if x.strip()]
    result = run(sizes, args.rounds, args.accuracy_rounds) if sizes else {}
    if args.multihost:
        result["multihost"] = multihost(args.rounds)
    if args.json:
        print(json.dumps(result))
        return 0
    if "multihost" in result:
        m = result["multihost"]
        print(f"{'layout':<12} {'round s':>8} {'after reveal s':>15} {'bytes/round':>12}   "
              f"(3 participants, {m['commit_s']} s + {m['reveal_s']} s windows)")  # fmt: skip
        for layout in ("single-home", "multi-host"):
            row = m[layout]
            if "skipped" in row:
                print(f"{layout:<12} skipped: {row['skipped']}")
                continue
            moved = row["bytes_between_hosts_per_round"]
            print(f"{layout:<12} {row['round_s']:>8.1f} {row['after_reveal_s']:>15.1f} "
                  f"{'-' if moved is None else f'{moved:,.0f}':>12}")  # fmt: skip
    if not sizes:
        return 0
    print(
        f"{'n':>3} {'round s':>8} {'train':>7} {'storage':>8} {'chain':>7} {'value':>7} "
        f"{'other':>7} {'chain+storage':>14}"
    )
    for n, r in result["sizes"].items():
        print(
            f"{n:>3} {r['round_s']:>8.2f} {r['training_s']:>7.2f} {r['storage_s']:>8.2f} "
            f"{r['chain_s']:>7.2f} {r['valuation_s']:>7.2f} {r['other_s']:>7.2f} "
            f"{100 * r['chain_plus_storage_fraction']:>13.1f}%   (target < 10% at n=10; "
            f"{100 * r['chain_plus_storage_fraction_of_wall_round']:.1f}% of a demo round "
            "with its windows)"
        )
    a = result["accuracy"]
    print(
        f"accuracy after {a['rounds']} non-IID rounds: federated {a['federated']:.3f}, "
        f"centralised {a['centralised']:.3f}, gap {a['gap_points']:.1f} points (target <= 2)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
