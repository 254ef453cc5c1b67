"""Every user mistake is one line on stderr and changes nothing (issue 13's "Done when").

Each case runs the real `fedmarket` entry point in a subprocess against the session's Anvil
and asserts: exit code 1 or 2, exactly one line on stderr, no traceback, no run of 16+ digits
(a raw base-unit amount), and no change on chain (token balances, allowances, ETH balances,
nonces, the number of tasks) or in the home (content store blocks and pins, keystores).

Every case runs through ``fedmarket.cli.main`` in this process (a subprocess per case would
spend most of its time importing web3 and torch), and a few of them again through the real
entry point in a subprocess. The chain and the home are snapshotted around each case.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
from fmkit import CLI_PASSWORD, Devnet, keystore, make_scenario

from devnet.accounts import dev_account
from fedmarket.cli import main
from marketplace.chain.client import MarketplaceClient
from marketplace.chain.keystore import create_account, list_accounts
from marketplace.protocol.dataset import Dataset, save_npz
from marketplace.roles.tasks import Windows, create_task
from marketplace.storage import CID

pytestmark = pytest.mark.anvil

LONG_DIGITS = re.compile(r"\b\d{16,}\b")
#: Windows no test outlives: nothing here may depend on Anvil's (real) clock moving on.
LONG = Windows(commit=3600, reveal=3600, settle=86_400, challenge=3600, resolve=3600, claim=86_400)
GOOD_ADDRESS = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
BAD_CHECKSUM = GOOD_ADDRESS.replace("aAeb", "aaeb")


@dataclass
class World:
    """What the cases refer to: tasks, keystores, files (filled in by the fixture)."""

    devnet: Devnet
    files: Path
    names: dict[str, str] = field(default_factory=dict)
    busy: socket.socket | None = None

    def fill(self, arg: str) -> str:
        return arg.format(**self.names)


@dataclass(frozen=True)
class Case:
    args: tuple[str, ...]
    says: str  # a fragment the one line must contain
    env: tuple[tuple[str, str | None], ...] = ()  # overrides ({home_empty} = a fresh home)


CASES: dict[str, Case] = {
    # -- task create (issue: tracebacks for --aggregator 0x1234 or a name)
    "create-short-address": Case(
        ("task", "create", "--key", "ux-req", "--validation", "{val}", "--aggregator", "0x1234"),
        "is not an address",
    ),
    "create-unknown-name": Case(
        ("task", "create", "--key", "ux-req", "--validation", "{val}", "--aggregator", "nobody"),
        "no account named 'nobody'",
    ),
    "create-bad-checksum": Case(
        (
            "task",
            "create",
            "--key",
            "ux-req",
            "--validation",
            "{val}",
            "--aggregator",
            BAD_CHECKSUM,
        ),
        "checksum",
    ),
    "create-32-feature-validation": Case(
        (
            "task",
            "create",
            "--key",
            "ux-req",
            "--validation",
            "{val32}",
            "--aggregator",
            "ux-agg",
            "--arbiter",
            "ux-arb",
        ),
        "32 features",
    ),
    "create-unfunded": Case(
        (
            "task",
            "create",
            "--key",
            "ux-poor",
            "--validation",
            "{val}",
            "--aggregator",
            "ux-agg",
            "--arbiter",
            "ux-arb",
        ),
        "holds 0 FMT but the task's budget needs 5,000 FMT",
    ),
    "create-bad-amount": Case(
        (
            "task",
            "create",
            "--key",
            "ux-req",
            "--validation",
            "{val}",
            "--aggregator",
            "ux-agg",
            "--round-budget",
            "lots",
        ),
        "not a token amount",
    ),
    "create-zero-rounds": Case(
        (
            "task",
            "create",
            "--key",
            "ux-req",
            "--validation",
            "{val}",
            "--aggregator",
            "ux-agg",
            "--rounds",
            "0",
        ),
        "--rounds",
    ),
    "create-wrong-password": Case(
        (
            "task",
            "create",
            "--key",
            "ux-req",
            "--validation",
            "{val}",
            "--aggregator",
            "ux-agg",
            "--arbiter",
            "ux-arb",
        ),
        "wrong password",
        (("FEDMARKET_KEY_PASSWORD", "wrong"),),
    ),
    "create-unknown-key": Case(
        (
            "task",
            "create",
            "--key",
            "nokey",
            "--validation",
            "{val}",
            "--aggregator",
            "ux-agg",
            "--arbiter",
            "ux-arb",
        ),
        "no keystore found for 'nokey'",
    ),
    # -- join (issue: tracebacks for labels out of range, features that do not fit; an
    #    approval left behind by a stake below the minimum)
    "join-labels-out-of-range": Case(
        ("join", "--task", "{created}", "--key", "ux-part", "--data", "{labels}"),
        "has label 14, but task",
    ),
    "join-32-features": Case(
        ("join", "--task", "{created}", "--key", "ux-part", "--data", "{train32}"),
        "32 features per sample",
    ),
    "join-stake-below-minimum": Case(
        ("join", "--task", "{created}", "--key", "ux-part", "--data", "{train}", "--stake", "0.5"),
        "stake 0.5 FMT is below task",
    ),
    "join-unfunded": Case(
        ("join", "--task", "{created}", "--key", "ux-poor", "--data", "{train}"),
        "holds 0 FMT but the stake needs 1 FMT",
    ),
    "join-unknown-task": Case(
        ("join", "--task", "99999", "--key", "ux-part", "--data", "{train}"),
        "task 99999 does not exist",
    ),
    "join-unknown-format": Case(
        ("join", "--task", "{created}", "--key", "ux-part", "--data", "{text}"),
        "unknown data format",
    ),
    "join-unknown-behaviour": Case(
        (
            "join",
            "--task",
            "{created}",
            "--key",
            "ux-part",
            "--data",
            "{train}",
            "--behaviour",
            "saboteur",
        ),
        "--behaviour",
    ),
    "join-ended-task": Case(
        ("join", "--task", "{cancelled}", "--key", "ux-part", "--data", "{train}"),
        "is cancelled and takes no more participants",
    ),
    # -- coordinate (issue: a 32-feature validation file silently made a 32-input model)
    "coordinate-32-feature-validation": Case(
        ("coordinate", "--task", "{created}", "--key", "ux-agg", "--validation", "{val32}"),
        "32 features per sample, but task",
    ),
    "coordinate-not-aggregator": Case(
        ("coordinate", "--task", "{created}", "--key", "ux-req", "--validation", "{val}"),
        "is not the aggregator of task",
    ),
    "coordinate-unknown-task": Case(
        ("coordinate", "--task", "99999", "--key", "ux-agg", "--validation", "{val}"),
        "task 99999 does not exist",
    ),
    # -- publish-validation (issue: "not the validation set task 99 committed to")
    "publish-unknown-task": Case(
        ("task", "publish-validation", "99999", "--key", "ux-req", "--validation", "{val}"),
        "task 99999 does not exist",
    ),
    "publish-not-requester": Case(
        ("task", "publish-validation", "{created}", "--key", "ux-agg", "--validation", "{val}"),
        "is not the requester of task",
    ),
    "publish-wrong-file": Case(
        ("task", "publish-validation", "{created}", "--key", "ux-req", "--validation", "{other}"),
        "not the validation set task",
    ),
    # -- challenge and resolve (issue: --round 9 on a 3-round task printed stray lines)
    "challenge-round-past-the-end": Case(
        ("challenge", "--task", "{created}", "--round", "9", "--key", "ux-part"),
        "has 3 rounds; there is no round 9",
    ),
    "challenge-unopened-round": Case(
        ("challenge", "--task", "{created}", "--round", "1", "--key", "ux-part"),
        "has not been opened",
    ),
    "challenge-open-round": Case(
        ("challenge", "--task", "{started}", "--round", "1", "--key", "ux-part"),
        "is not settled yet",
    ),
    "resolve-not-resolver": Case(
        ("resolve", "--task", "{started}", "--round", "1", "--uphold", "--key", "ux-part"),
        "is not the arbiter of task",
    ),
    "resolve-no-challenge": Case(
        ("resolve", "--task", "{started}", "--round", "1", "--reject", "--key", "ux-arb"),
        "is not settled yet",
    ),
    # -- money out (new commands): refused before any transaction
    "cancel-not-requester": Case(
        ("task", "cancel", "{created}", "--key", "ux-agg"), "is not the requester of task"
    ),
    "cancel-started-task": Case(
        ("task", "cancel", "{started}", "--key", "ux-req"), "cannot be cancelled"
    ),
    "refund-running-task": Case(
        ("task", "refund", "{created}", "--key", "ux-req"), "refunded once it has ended"
    ),
    "refund-unknown-task": Case(
        ("task", "refund", "99999", "--key", "ux-req"), "task 99999 does not exist"
    ),
    "wind-down-unstarted-task": Case(
        ("task", "wind-down", "{created}", "--key", "ux-part"), "has missed no deadline"
    ),
    "wind-down-too-early": Case(
        ("task", "wind-down", "{started}", "--key", "ux-part"), "has missed no deadline"
    ),
    "withdraw-stake-not-joined": Case(
        ("withdraw", "--task", "{created}", "--key", "ux-part"), "has not joined task"
    ),
    "withdraw-stake-before-the-end": Case(
        ("withdraw", "--task", "{started}", "--key", "ux-joined"), "stakes come back once"
    ),
    "withdraw-no-credits": Case(
        ("withdraw", "--credits", "--key", "ux-poor"), "has no bonds credited"
    ),
    "withdraw-neither": Case(("withdraw", "--key", "ux-part"), "either --task N"),
    "withdraw-both": Case(
        ("withdraw", "--task", "{created}", "--credits", "--key", "ux-part"), "either --task N"
    ),
    "claim-nothing": Case(
        ("claim", "--task", "{started}", "--key", "ux-joined"), "has nothing to claim"
    ),
    # -- accounts (issue: `account fund alice` failed; `account new` without a TTY: "aborted")
    "fund-unknown-name": Case(("account", "fund", "nobody"), "no account named 'nobody'"),
    "fund-bad-checksum": Case(("account", "fund", BAD_CHECKSUM), "checksum"),
    "account-new-without-terminal": Case(
        ("account", "new", "--name", "ux-nobody"),
        "FEDMARKET_KEY_PASSWORD",
        (("FEDMARKET_KEY_PASSWORD", None),),
    ),
    "account-new-bad-name": Case(("account", "new", "--name", "../x"), "--name"),
    "account-new-existing-name": Case(("account", "new", "--name", "ux-req"), "already exists"),
    # -- reading (existing one-line errors, kept)
    "show-unknown-task": Case(("task", "show", "999999"), "task 999999 does not exist"),
    "audit-unknown-task": Case(("audit", "--task", "99999"), "task 99999 does not exist"),
    "list-unreachable-chain": Case(
        ("task", "list", "--rpc-url", "http://127.0.0.1:1"), "no Ethereum JSON-RPC endpoint"
    ),
    "ipfs-cat-missing": Case(("ipfs", "cat", "{missing_cid}"), "not in the store"),
    "ipfs-cat-not-a-cid": Case(("ipfs", "cat", "hello"), "hello"),
    # -- serve (issue: printed a dashboard URL pointing at another server, then Errno 98)
    "serve-busy-port": Case(("serve", "--port", "{busy_port}"), "already in use"),
    # -- commands run on a fresh home: nothing there to harm
    "devnet-reset-without-terminal": Case(
        (
            "devnet",
            "reset",
        ),
        "--yes",
        (("FEDMARKET_HOME", "{home_empty}"),),
    ),
    "demo-unknown-behaviour": Case(
        ("demo", "--participants", "honest,saboteur"),
        "--participants",
        (("FEDMARKET_HOME", "{home_empty}"),),
    ),
    "unknown-option": Case(("task", "list", "--colour"), "No such option"),
}


@pytest.fixture(scope="module")
def world(devnet: Devnet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    files = tmp_path_factory.mktemp("bad-inputs")
    w = World(devnet, files)
    # accounts: the requester and aggregator of the scenario tasks, a participant, a joined
    # participant, and one that holds nothing
    w.names["req"] = keystore(devnet, "ux-req", 1)
    keystore(devnet, "ux-agg", 2)
    keystore(devnet, "ux-arb", 0)
    keystore(devnet, "ux-part", 8)
    keystore(devnet, "ux-joined", 7)
    if not (devnet.settings.keystore_dir / "ux-poor.json").exists():
        create_account(devnet.settings.keystore_dir, CLI_PASSWORD, name="ux-poor")
    created = make_scenario(devnet, n=1, rounds=3, participants_from=7, seed=13)
    cancelled = make_scenario(devnet, n=1, rounds=1, participants_from=7, seed=15)
    devnet.client(1).cancel(cancelled.task_id)
    started = create_task(
        devnet.client(1), devnet.store(), created.spec, aggregator=devnet.client(2).address,
        arbiter=devnet.client(0).address, rounds=3, round_budget=10**20, min_stake=10**18, windows=LONG, settle_bond=10**18,
    )  # fmt: skip
    devnet.client(7).join(started.task_id, 10**18)
    devnet.client(2).open_round(started.task_id, started.initial_model_cid)
    train = created.shards[0]
    rng = np.random.default_rng(0)
    labels = Dataset(train.X, np.minimum(train.y + 5, 14), 15)
    other = Dataset(created.validation.X[:50], created.validation.y[:50], 10)
    (files / "data.txt").write_text("not data\n")
    w.names.update(
        created=str(created.task_id),
        started=str(started.task_id),
        cancelled=str(cancelled.task_id),
        val=str(save_npz(created.validation, files / "val.npz")),
        val32=str(
            save_npz(
                Dataset(created.validation.X[:, :32], created.validation.y, 10), files / "val32.npz"
            )
        ),
        other=str(save_npz(other, files / "other.npz")),
        train=str(save_npz(train, files / "train.npz")),
        train32=str(save_npz(Dataset(train.X[:, :32], train.y, 10), files / "train32.npz")),
        labels=str(save_npz(labels, files / "labels.npz")),
        text=str(files / "data.txt"),
        missing_cid=str(CID.of(0x55, rng.bytes(32))),
        home_empty=str(tmp_path_factory.mktemp("empty-home")),
    )
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    w.busy = busy
    w.names["busy_port"] = str(busy.getsockname()[1])
    try:
        yield w
    finally:
        busy.close()


def chain_state(w: World) -> dict[str, Any]:
    """Everything a refused command must leave alone on chain."""
    d = w.devnet
    client = MarketplaceClient(d.w3, d.deployments.marketplace, d.deployments.token)
    accounts = {dev_account(i).address for i in range(10)}
    accounts |= {e.address for e in list_accounts(d.settings.keystore_dir)}
    market = client.market.address
    state: dict[str, Any] = {"tasks": client.task_count(), "market": client.balance(market)}
    for a in sorted(accounts):
        state[a] = (
            client.balance(a),
            int(client.token.functions.allowance(a, market).call()),
            int(d.w3.eth.get_balance(a)),  # type: ignore[arg-type]
            int(d.w3.eth.get_transaction_count(a)),  # type: ignore[arg-type]
        )
    return state


def home_state(home: Path) -> set[tuple[str, int]]:
    """Content store blocks and pins, and keystores: every file with its size."""
    out = set()
    for sub in ("ipfs", "keystore"):
        root = home / sub
        if root.exists():
            for path in root.rglob("*"):
                if path.is_file() and path.name != "lock":
                    out.add((str(path.relative_to(home)), path.stat().st_size))
    return out


def case_env(w: World, case: Case) -> dict[str, str]:
    env = {
        **os.environ,
        "FEDMARKET_HOME": str(w.devnet.settings.home),
        "FEDMARKET_KEY_PASSWORD": CLI_PASSWORD,
    }
    for name in ("FEDMARKET_DEBUG", "FEDMARKET_RPC_URL", "FEDMARKET_IPFS", "NO_COLOR"):
        env.pop(name, None)
    for name, value in case.env:
        if value is None:
            env.pop(name, None)
        else:
            env[name] = w.fill(value)
    return env


def run(w: World, case: Case) -> subprocess.CompletedProcess[str]:
    """The real entry point in a subprocess (stdin not a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "fedmarket.cli", *(w.fill(a) for a in case.args)],
        env=case_env(w, case),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )


def run_in_process(w: World, case: Case) -> subprocess.CompletedProcess[str]:
    """``fedmarket.cli.main`` in this process: the same code path, without paying a Python
    start-up (web3, torch) per case. stdin is not a terminal, stdout and stderr are captured."""
    args = [w.fill(a) for a in case.args]
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    err = io.StringIO()
    code: int | str | None = 0
    with (
        mock.patch.dict(os.environ, case_env(w, case), clear=True),
        mock.patch.object(sys, "stdin", io.StringIO()),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code
    out.flush()
    stdout = out.buffer.getvalue().decode()  # type: ignore[attr-defined]
    return subprocess.CompletedProcess(args, code if isinstance(code, int) else 1, stdout,
                                       err.getvalue())  # fmt: skip


def check_refused(
    w: World, case: Case, runner: Callable[[World, Case], subprocess.CompletedProcess[str]]
) -> None:
    """Run ``case``: exit 1 or 2, one line on stderr saying ``case.says``, nothing changed."""
    chain_before, home_before = chain_state(w), home_state(w.devnet.settings.home)

    proc = runner(w, case)

    lines = proc.stderr.strip().splitlines()
    assert proc.returncode in (1, 2), (proc.returncode, proc.stderr[-2000:])
    assert len(lines) == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert lines[0].startswith("error: ")
    assert case.says in lines[0], lines[0]
    assert not LONG_DIGITS.search(proc.stderr + proc.stdout), lines[0]
    chain_after = chain_state(w)
    changed = {k: (chain_before.get(k), v) for k, v in chain_after.items()
               if chain_before.get(k) != v}  # fmt: skip
    assert not changed, f"changed on chain (balance, allowance, eth, nonce): {changed}"
    home_after = home_state(w.devnet.settings.home)
    assert home_after == home_before, f"files changed: {home_after ^ home_before}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_line_and_changes_nothing(world: World, name: str) -> None:
    check_refused(world, CASES[name], run_in_process)


#: A few cases again through the real entry point (`python -m fedmarket.cli`) in a subprocess:
#: nothing the interpreter prints on its own (warnings, a traceback at exit) may slip in.
ENTRY_POINT_CASES = [
    "create-short-address",
    "join-stake-below-minimum",
    "refund-running-task",
    "account-new-without-terminal",
    "serve-busy-port",
    "unknown-option",
]


@pytest.mark.parametrize("name", ENTRY_POINT_CASES)
def test_bad_input_through_the_entry_point(world: World, name: str) -> None:
    check_refused(world, CASES[name], run)


def test_every_case_names_an_issue_mistake_or_a_command() -> None:
    """Guard against the table losing a command: every money/dispute command has a case."""
    covered = {c.args[0] if c.args[0] != "task" else f"task {c.args[1]}" for c in CASES.values()}
    for command in ("task create", "task cancel", "task refund", "task wind-down",
                    "task publish-validation", "join", "coordinate", "challenge", "resolve",
                    "withdraw", "claim", "account", "serve", "ipfs"):  # fmt: skip
        assert command in covered, command


def test_debug_keeps_the_traceback(world: World) -> None:
    case = Case(("task", "show", "999999"), "", (("FEDMARKET_DEBUG", "1"),))

    proc = run(world, case)

    assert proc.returncode == 1
    assert "Traceback" in proc.stderr
