"""`fedmarket demo`: the whole product on embedded defaults, as a first run.

It starts (or reuses) the devnet, creates a digits-classification task, runs the participants
as separate `fedmarket join` processes (by default three honest nodes, one with noisy labels
and one free-rider), coordinates every round in this process, lets everyone claim, audits the
ledger and prints a summary (or, with ``--json``, one JSON object per event and the result).
What happens is reported as :class:`~marketplace.notices.Notice` events through ``log``; the
result is also written to ``$FEDMARKET_HOME/demo/summary.json``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np

from devnet import manager
from devnet.accounts import dev_account
from devnet.process import running
from fedmarket.commands.demo import DEFAULT_BEHAVIOURS
from marketplace.atomic_files import write_json_atomic
from marketplace.chain.client import MarketplaceClient
from marketplace.chain.keystore import create_account, list_accounts
from marketplace.chain.rpc import connect
from marketplace.errors import ContractRevert, ProtocolError
from marketplace.notices import Notice, Tokens
from marketplace.protocol.dataset import Dataset, dataset_sha256, save_npz
from marketplace.protocol.ledger import Ledger
from marketplace.protocol.round_compute import RoundOutcome
from marketplace.protocol.task_spec import TaskSpec, TrainingConfig, ValuationConfig
from marketplace.roles.coordinator import Coordinator
from marketplace.roles.tasks import Windows, create_task, publish_validation
from marketplace.settings import Settings
from marketplace.storage import open_store
from marketplace.units import amount_json, format_amount, to_units
from participant.data import dirichlet_partition, load_digits, train_validation_split
from valuation.model_spec import ModelSpec

DEMO_PASSWORD = "fedmarket-demo"  # protects throwaway keystores of public devnet keys
ARBITER, REQUESTER, AGGREGATOR, FIRST_PARTICIPANT = 0, 1, 2, 3


@dataclass
class DemoConfig:
    behaviours: tuple[str, ...] = DEFAULT_BEHAVIOURS
    rounds: int = 5
    round_budget_tokens: int = 1000
    stake_tokens: int = 10
    alpha: float = 0.8
    seed: int = 7
    windows: Windows = field(
        default_factory=lambda: Windows(
            commit=8, reveal=5, settle=300, challenge=2, resolve=60, claim=3600
        )
    )
    participant_timeout: float = 600.0


@dataclass
class DemoResult:
    """What `--json` prints."""

    task_id: int
    rpc_url: str
    rounds: list[dict[str, Any]]
    participants: list[dict[str, Any]]
    budget_spent: int
    audit_ok: bool
    audit: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The result as JSON: amounts as ``{"units", "value", "decimals"}`` (exact)."""
        return {
            "task_id": self.task_id,
            "rpc_url": self.rpc_url,
            "rounds": [
                {**r, "payouts": {a: amount_json(v) for a, v in r["payouts"].items()}}
                for r in self.rounds
            ],
            "participants": [
                {
                    **p,
                    "tokens_claimed": amount_json(p["tokens_claimed"]),
                    "balance_change": amount_json(p["balance_change"]),
                }
                for p in self.participants
            ],
            "budget_spent": amount_json(self.budget_spent),
            "audit_ok": self.audit_ok,
        }


def ensure_keystore(settings: Settings, name: str, index: int) -> Path:
    """A keystore named ``name`` holding dev account ``index`` (created once)."""
    for entry in list_accounts(settings.keystore_dir):
        if entry.path.stem == name:
            return entry.path
    return create_account(
        settings.keystore_dir, DEMO_PASSWORD, private_key=bytes(dev_account(index).key), name=name
    ).path


def prepare_data(workdir: Path, n_participants: int, cfg: DemoConfig) -> tuple[Dataset, list[Path]]:
    """Validation set (20 % of digits) and one non-IID shard per participant, saved as .npz."""
    workdir.mkdir(parents=True, exist_ok=True)
    train, validation = train_validation_split(load_digits(), 0.2, seed=cfg.seed)
    parts = dirichlet_partition(train.y, n_participants, cfg.alpha, seed=cfg.seed)
    paths = []
    for i, idx in enumerate(parts):
        paths.append(save_npz(train.subset(np.sort(idx)), workdir / f"participant-{i}.npz"))
    save_npz(validation, workdir / "validation.npz")
    return validation, paths


def run_demo(
    settings: Settings, cfg: DemoConfig, *, keep_devnet: bool = False, log: Any = print
) -> DemoResult:
    """Everything end to end; returns the summary (also used by the end-to-end test)."""
    started_here = running(settings.devnet_dir) is None
    log(Notice.of("devnet_starting", "starting the devnet", rounds=cfg.rounds))
    up = manager.up(settings)
    for line in up.describe().splitlines():
        log(Notice.of("devnet_up", "{line}", rpc_url=up.deployments.rpc_url, line=line))
    try:
        result = _run(
            settings,
            cfg,
            up.deployments.rpc_url,
            up.deployments.marketplace,
            up.deployments.token,
            log,
        )
        write_json_atomic(settings.home / "demo" / "summary.json", result.to_dict())
        return result
    finally:
        if started_here and not keep_devnet:
            manager.down(settings)
            log(Notice.of("devnet_stopped",
                          "devnet stopped (run with --keep-devnet to inspect it)"))  # fmt: skip


def _run(
    settings: Settings, cfg: DemoConfig, rpc_url: str, market: str, token: str, log: Any
) -> DemoResult:
    w3 = connect(rpc_url)
    store = open_store(settings)
    requester = MarketplaceClient(w3, market, token, dev_account(REQUESTER))
    aggregator = requester.with_account(dev_account(AGGREGATOR))
    n = len(cfg.behaviours)
    keystores = [
        ensure_keystore(settings, f"demo-participant-{i}", FIRST_PARTICIPANT + i) for i in range(n)
    ]
    addresses = [dev_account(FIRST_PARTICIPANT + i).address for i in range(n)]
    workdir = settings.home / "demo"
    validation, shards = prepare_data(workdir, n, cfg)
    spec = TaskSpec(
        name="digits (demo)",
        model=ModelSpec("mlp", (64,), 10, hidden=(64, 64)),
        validation_sha256=dataset_sha256(validation),
        validation_size=len(validation),
        training=TrainingConfig(epochs=5, lr=0.1, batch_size=32, optimizer="momentum"),
        valuation=ValuationConfig(method="auto"),
    )
    budget = to_units(cfg.round_budget_tokens)
    log(Notice.of("task_creating", "creating the task: {rounds} rounds x {round_budget}",
                  rounds=cfg.rounds, round_budget=Tokens(budget)))  # fmt: skip
    created = create_task(
        requester,
        store,
        spec,
        aggregator=aggregator.address,
        arbiter=dev_account(ARBITER).address,
        rounds=cfg.rounds,
        round_budget=budget,
        min_stake=to_units(cfg.stake_tokens),
        windows=cfg.windows,
        settle_bond=to_units(1),
    )
    task_id = created.task_id
    log(Notice.of(
        "task_created", "task {task_id} created: {rounds} rounds x {round_budget}, "
        "{participants} participants", task_id=task_id, rounds=cfg.rounds,
        round_budget=Tokens(budget), participants=n,
    ))  # fmt: skip
    before = {a: requester.balance(a) for a in addresses}
    procs = _start_participants(settings, task_id, keystores, shards, cfg)
    try:
        log(Notice.of("participants_starting", "waiting for {participants} participants to join",
                      task_id=task_id, participants=n))  # fmt: skip
        _wait_for_joins(requester, task_id, n, procs, timeout=cfg.participant_timeout)
        log(Notice.of("participants_joined", "all {participants} participants joined",
                      task_id=task_id, participants=n))  # fmt: skip
        outcomes: dict[int, RoundOutcome] = {}
        coordinator = Coordinator(
            aggregator,
            store,
            task_id,
            validation,
            log=log,
            on_settled=lambda o: outcomes.__setitem__(o.report.round, o),
        )
        coordinator.run(timeout=cfg.rounds * 120.0)
        log(Notice.of("claiming", "participants are claiming their rewards and stakes",
                      task_id=task_id))  # fmt: skip
        _wait_for(procs, cfg.participant_timeout)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    publish_validation(requester, store, task_id, validation)  # now anyone can audit
    try:  # the refund of a task that ran rounds needs the validation set published
        requester.refund(task_id)
    except ContractRevert as exc:
        if exc.error_name != "MarketplaceNothingToRefund":
            raise
    if aggregator.credits(aggregator.address):  # its bond, returned when the last round is final
        aggregator.withdraw_credit()
    ledger = Ledger.from_events(task_id, requester.task_events(task_id))
    claimed = {a: sum(c["amount"] for c in ledger.claims if c["account"] == a) for a in addresses}
    after = {a: requester.balance(a) for a in addresses}
    log(Notice.of("auditing", "auditing task {task_id} from public artifacts", task_id=task_id))
    audit_summary = _audit(requester, store, task_id)
    log(Notice.of("audited", "audit of task {task_id}: {verdict}", task_id=task_id,
                  ok=bool(audit_summary.get("ok")),
                  verdict="OK" if audit_summary.get("ok") else "FAILED"))  # fmt: skip
    rounds = []
    for r in sorted(outcomes):
        rep = outcomes[r].report
        rounds.append(
            {
                "round": r,
                "accuracy": rep.accuracy,
                "contributions": rep.contributions(),
                "payouts": rep.round_payouts,
                "fairness": rep.fairness,
            }
        )
    participants = [
        {
            "address": a,
            "behaviour": cfg.behaviours[i],
            "tokens_claimed": claimed[a],
            "balance_change": after[a] - before[a],
        }
        for i, a in enumerate(addresses)
    ]
    return DemoResult(
        task_id=task_id, rpc_url=rpc_url, rounds=rounds, participants=participants,
        budget_spent=sum(o.total_paid for o in outcomes.values()),
        audit_ok=bool(audit_summary.get("ok")), audit=audit_summary,
    )  # fmt: skip


def _audit(client: MarketplaceClient, store: Any, task_id: int) -> dict[str, Any]:
    from marketplace.roles.audit import audit_task

    result = audit_task(client, store, task_id)  # from public artifacts only
    return result.to_dict()


def _start_participants(
    settings: Settings, task_id: int, keystores: list[Path], shards: list[Path], cfg: DemoConfig
) -> list[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "FEDMARKET_HOME": str(settings.home),
        "FEDMARKET_KEY_PASSWORD": DEMO_PASSWORD,
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    env.pop("FEDMARKET_RPC_URL", None)
    logs = settings.home / "demo" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    procs = []
    for i, (keystore, shard) in enumerate(zip(keystores, shards, strict=True)):
        out = (logs / f"participant-{i}.log").open("wb")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "fedmarket.cli", "join", "--task", str(task_id),
             "--key", str(keystore), "--data", str(shard), "--behaviour", cfg.behaviours[i],
             "--quiet", "--timeout", str(cfg.participant_timeout)],
            env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        ))  # fmt: skip
        out.close()
    return procs


def _wait_for_joins(
    client: MarketplaceClient,
    task_id: int,
    n: int,
    procs: list[subprocess.Popen[bytes]],
    timeout: float = 120.0,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        joined = sum(1 for e in client.task_events(task_id) if e.name == "ParticipantJoined")
        if joined >= n:
            return
        dead = [p for p in procs if p.poll() is not None and p.returncode != 0]
        if dead:
            raise ProtocolError(
                f"{len(dead)} participant process(es) exited before joining; "
                "see the logs under $FEDMARKET_HOME/demo/logs"
            )
        time.sleep(0.3)
    raise ProtocolError(f"participants did not all join within {timeout:.0f}s")


def _wait_for(procs: list[subprocess.Popen[bytes]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for proc in procs:
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))


def print_summary(result: DemoResult, echo: Any = click.echo, style: Any = None) -> None:
    """A readable table of rounds, contributions and payouts (amounts in FMT)."""
    styled = style or (lambda word: word)
    echo(f"\ntask {result.task_id} on {result.rpc_url}")
    short = {p["address"]: f"{p['address'][:8]} ({p['behaviour']})" for p in result.participants}
    echo(f"{'round':>5}  {'accuracy':>8}  {'jain':>5}  {'gini':>5}  {'corr':>5}")
    for r in result.rounds:
        f = r.get("fairness", {})
        echo(
            f"{r['round']:>5}  {r['accuracy']:>8.3f}  {_metric(f.get('jain')):>5}  "
            f"{_metric(f.get('gini')):>5}  {_metric(f.get('pearson')):>5}"
        )
    echo(f"\n{'participant':<34} {'total contribution':>18} {'tokens claimed':>16}")
    for p in result.participants:
        total = sum(r["contributions"].get(p["address"], 0.0) for r in result.rounds)
        echo(f"{short[p['address']]:<34} {total:>18.4f} {format_amount(p['tokens_claimed']):>16}")
    verdict = styled("OK") if result.audit_ok else styled("FAILED")
    echo(f"\nbudget spent: {format_amount(result.budget_spent)}; audit: {verdict}")


def _metric(value: Any) -> str:
    return "-" if value is None else f"{float(value):.2f}"
