"""Audit (public and full level) and indexer figures on a synthetic 20-round, 10-participant task.

The chain history is built quickly and for real: a devnet on a free port under a temporary
FEDMARKET_HOME, a task with short windows, ten participant accounts and the aggregator played
in-process with :class:`MarketplaceClient` (one local epoch per round, real commit/reveal),
the shared round computation (`gather_inputs` + `compute_round`) to settle, and
``evm_increaseTime`` + ``evm_mine`` to skip the windows instead of waiting. Then it times:

- ``public_audit_s``: :func:`marketplace.roles.audit.audit_task` without validation data (the
  PUBLIC level: screening, aggregate, payees, totals, roots, report fields; what anyone can run
  at any time, inside a challenge window too);
- ``audit_s``: the same task audited with ``validation=`` (the FULL level: also utilities,
  values, payouts and accuracy; target: under 60 s);
- ``indexer_events_per_s``: a full sync of the service's indexer into a fresh SQLite file.

Both levels run ``--repeats`` times, alternating (public, full, public, full, ...) so that
drift on a shared machine hits both alike; the figures are the medians. Ratios against
baselines measured in the same run: ``full_vs_public`` (full audit over public audit, pair
by pair, median), ``audit_vs_settling`` (full audit over the time the aggregator spent
computing the same rounds) and ``indexer_vs_get_logs`` (sync time over fetching and decoding
the same logs without writing them). Figures measured on this machine: bench/README.md.
Last run (defaults, busy machine): public 0.934 s, full 16.867 s (medians of 3),
full_vs_public 21.14, audit_vs_settling 0.49 (before the full level reused its own coalition
scores: full 149.618 s, audit_vs_settling 1.64).

    python bench/audit.py [--rounds 20] [--participants 10] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, cast

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devnet import manager  # noqa: E402
from devnet.accounts import dev_account  # noqa: E402
from devnet.faucet import fund  # noqa: E402
from devnet.process import free_port  # noqa: E402
from marketplace.api.indexer import ChainSource, Indexer  # noqa: E402
from marketplace.chain.client import MarketplaceClient  # noqa: E402
from marketplace.chain.commitment import commitment  # noqa: E402
from marketplace.chain.rpc import connect  # noqa: E402
from marketplace.protocol.dataset import dataset_sha256  # noqa: E402
from marketplace.protocol.ledger_lookup import task_facts  # noqa: E402
from marketplace.protocol.round_compute import Validation, compute_round, gather_inputs  # noqa: E402
from marketplace.protocol.task_spec import TaskSpec, TrainingConfig, ValuationConfig  # noqa: E402
from marketplace.protocol.weights import decode_weights, encode_weights  # noqa: E402
from marketplace.roles.audit import audit_task  # noqa: E402
from marketplace.roles.tasks import Windows, create_task  # noqa: E402
from marketplace.settings import Settings  # noqa: E402
from marketplace.storage import EmbeddedStore  # noqa: E402
from participant.data import dirichlet_partition, load_digits, train_validation_split  # noqa: E402
from participant.training import train_local  # noqa: E402
from valuation.model_spec import ModelSpec, parameter_shapes  # noqa: E402

TOKEN = 10**18
ARBITER, REQUESTER, AGGREGATOR, FIRST_PARTICIPANT = 0, 1, 2, 3  # tests/fmkit.py's roles
#: Skipped with evm_increaseTime, never waited (each is at least the devnet's minWindow).
WINDOWS = Windows(commit=600, reveal=600, settle=3600, challenge=5, resolve=60, claim=3600)


def advance(client: MarketplaceClient, seconds: int) -> None:
    client.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    client.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def build_history(settings: Settings, rounds: int, participants: int,
                  log: Any) -> tuple[MarketplaceClient, EmbeddedStore, int, Any, float]:  # fmt: skip
    """Run ``rounds`` real rounds of a fresh task on the devnet; returns what the audit needs
    and the seconds the aggregator spent in ``compute_round`` (the audit's baseline)."""
    up = manager.up(settings, port=free_port())
    w3 = connect(up.deployments.rpc_url)
    dep = up.deployments
    store = EmbeddedStore(settings.store_dir)
    for i in range(participants):
        fund(w3, dep, dev_account(FIRST_PARTICIPANT + i).address, tokens=100, eth=10)
    requester = MarketplaceClient(w3, dep.marketplace, dep.token, dev_account(REQUESTER))
    aggregator = requester.with_account(dev_account(AGGREGATOR))
    nodes = [requester.with_account(dev_account(FIRST_PARTICIPANT + i))
             for i in range(participants)]  # fmt: skip

    train, held_out = train_validation_split(load_digits(), 0.2, seed=3)
    validation = cast(Validation, held_out)  # Dataset's read-only X/y satisfy the protocol
    shards = [train.subset(np.sort(p))
              for p in dirichlet_partition(train.y, participants, 1.0, seed=3)]  # fmt: skip
    spec = TaskSpec(
        name="bench: digits",
        model=ModelSpec("mlp", (64,), 10, hidden=(64, 64)),
        validation_sha256=dataset_sha256(held_out),
        validation_size=len(held_out),
        training=TrainingConfig(epochs=1, lr=0.1, batch_size=32),
        valuation=ValuationConfig(method="auto"),
    )
    created = create_task(requester, store, spec, aggregator=aggregator.address,
                          arbiter=dev_account(ARBITER).address, rounds=rounds,
                          round_budget=100 * TOKEN, min_stake=TOKEN, windows=WINDOWS,
                          settle_bond=TOKEN)  # fmt: skip
    task_id = created.task_id
    for node in nodes:
        node.join(task_id, TOKEN)
    facts = task_facts(requester, task_id)
    shapes = parameter_shapes(spec.model)
    global_cid = created.initial_model_cid
    compute_s = 0.0
    for r in range(1, rounds + 1):
        started = time.perf_counter()
        aggregator.open_round(task_id, global_cid)
        global_params = decode_weights(store.cat_bytes(global_cid), shapes)
        reveals = []
        for i, (node, shard) in enumerate(zip(nodes, shards, strict=True)):
            update = train_local(spec.model, global_params, shard.X, shard.y, epochs=1, lr=0.1,
                                 seed=1000 * r + i)  # fmt: skip
            added = store.add(encode_weights(update))
            digest, salt = bytes.fromhex(added.sha256), os.urandom(32)
            samples = len(shard)
            node.commit(task_id, commitment(task_id, r, added.cid, digest, samples,
                                            node.address, salt))  # fmt: skip
            reveals.append((node, added.cid, digest, samples, salt))
        advance(aggregator, WINDOWS.commit + 1)
        for node, cid, digest, samples, salt in reveals:
            node.reveal(task_id, cid, digest, samples, salt)
        advance(aggregator, WINDOWS.reveal + 1)
        computing = time.perf_counter()
        inputs = gather_inputs(aggregator, store, task_id, r, facts, spec)
        outcome = compute_round(inputs, store, validation)
        compute_s += time.perf_counter() - computing
        aggregator.settle(task_id, outcome.new_global_cid, outcome.report_cid,
                          outcome.payout_root, outcome.total_paid)  # fmt: skip
        advance(aggregator, WINDOWS.challenge + 1)
        aggregator.finalize(task_id)
        global_cid = outcome.new_global_cid
        log(f"round {r}: accuracy {outcome.accuracy:.3f} ({time.perf_counter() - started:.1f}s)")
    reader = MarketplaceClient(w3, dep.marketplace, dep.token)
    return reader, store, task_id, validation, compute_s


def measure(rounds: int, participants: int, repeats: int, log: Any) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="fedmarket-bench-audit-"))
    settings = Settings(home=home)
    try:
        started = time.perf_counter()
        client, store, task_id, validation, compute_s = build_history(
            settings, rounds, participants, log
        )
        build_s = time.perf_counter() - started

        public_times, full_times = [], []
        for i in range(repeats):
            started = time.perf_counter()
            public = audit_task(client, store, task_id)
            public_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            full = audit_task(client, store, task_id, validation=validation)
            full_times.append(time.perf_counter() - started)
            log(f"audit {i + 1}/{repeats}: public {public_times[-1]:.2f}s "
                f"({public.level}, ok={public.ok}), full {full_times[-1]:.2f}s "
                f"({full.level}, ok={full.ok})")  # fmt: skip
        public_s, audit_s = statistics.median(public_times), statistics.median(full_times)
        ratio = statistics.median(f / p for f, p in zip(full_times, public_times, strict=True))

        indexer = Indexer(ChainSource(client), home / "index" / "bench.sqlite3")
        started = time.perf_counter()
        report = indexer.sync()
        index_s = time.perf_counter() - started
        started = time.perf_counter()
        raw = client.events.fetch(0, report.to_block)  # baseline: decoding alone, no SQLite
        fetch_s = time.perf_counter() - started
        return {
            "public_audit_s": round(public_s, 3),
            "public_audit_level": str(public.level),
            "public_audit_ok": public.ok,
            "audit_s": round(audit_s, 3),
            "audit_level": str(full.level),
            "audit_ok": full.ok,
            "full_vs_public": round(ratio, 2),
            "repeats": repeats,
            "public_audit_runs_s": [round(t, 3) for t in public_times],
            "audit_runs_s": [round(t, 3) for t in full_times],
            "rounds": rounds,
            "participants": participants,
            "public_audit_s_per_round": round(public_s / rounds, 3),
            "audit_s_per_round": round(audit_s / rounds, 3),
            "audit_vs_settling": round(audit_s / compute_s, 2),
            "indexer_events_per_s": round(report.events / index_s, 1),
            "events": report.events,
            "blocks": report.to_block + 1,
            "indexer_s": round(index_s, 3),
            "indexer_vs_get_logs": round(index_s / fetch_s, 2) if raw else None,
            "build_s": round(build_s, 1),
        }
    finally:
        manager.down(settings)
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--participants", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3, help="timed audits of each level")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.rounds < 1 or args.participants < 1 or args.repeats < 1:
        parser.error("--rounds, --participants and --repeats must be at least 1")
    log = (lambda m: print(m, file=sys.stderr)) if args.json else print
    figures = measure(args.rounds, args.participants, args.repeats, log)
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>24}: {value}")


if __name__ == "__main__":
    main()
