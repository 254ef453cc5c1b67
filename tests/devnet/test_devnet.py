"""The devnet on a real Anvil: start, persist across kill -9, status, reset, bad situations."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devnet import manager, process
from devnet.accounts import dev_account
from devnet.deploy import DEVNET_MIN_WINDOW_S
from devnet.process import free_port
from marketplace.chain.client import MarketplaceClient
from marketplace.chain.rpc import connect
from marketplace.errors import ChainError, ConfigError, ContractRevert, DevnetError
from marketplace.protocol.task_spec import TaskSpec
from marketplace.roles.tasks import create_task
from marketplace.settings import Settings
from marketplace.storage import MemoryStore
from valuation.model_spec import ModelSpec

pytestmark = pytest.mark.anvil


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    settings = Settings(home=tmp_path / "home")
    yield settings
    manager.down(settings)


def test_kill_9_then_up_restores_addresses_balances_and_tasks(home: Settings) -> None:
    port = free_port()
    first = manager.up(home, port=port)
    assert first.deployed and first.started and not first.restored
    client = MarketplaceClient(
        connect(first.node.rpc_url), first.deployments.marketplace, account=dev_account(5)
    )
    client.token.functions  # noqa: B018 (the token contract is reachable)
    receiver = dev_account(6).address
    client.tx.transact(client.token.functions.transfer(receiver, 12345))
    balance = client.balance(receiver)
    time.sleep(process.STATE_INTERVAL_S + 1.5)  # the state file is rewritten every second

    os.kill(first.node.pid, signal.SIGKILL)
    for _ in range(100):
        if not process.pid_alive(first.node.pid):
            break
        time.sleep(0.05)
    second = manager.up(home, port=port)

    assert second.restored and not second.deployed
    assert "up to the last second" in second.describe()
    assert second.deployments.contracts == first.deployments.contracts
    w3 = connect(second.node.rpc_url)
    again = MarketplaceClient(w3, second.deployments.marketplace)
    assert again.balance(receiver) == balance
    status = manager.status(home)
    assert status["contracts"]["Marketplace"] == first.deployments.marketplace
    assert status["block"] >= first.deployments.deployed_block


def test_up_twice_reuses_the_running_chain(home: Settings) -> None:
    port = free_port()
    first = manager.up(home, port=port)
    second = manager.up(home)
    assert not second.started and not second.deployed
    assert second.node.pid == first.node.pid


def test_port_taken_says_what_to_do(home: Settings) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(DevnetError) as excinfo:
            manager.up(home, port=port)
    assert "already in use" in str(excinfo.value)
    assert "--port" in excinfo.value.user_message()


def test_missing_node_modules_says_run_make_setup(
    home: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import devnet.tools as tools

    monkeypatch.setattr(tools, "NODE_MODULES", tmp_path / "nowhere")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError) as excinfo:
        manager.up(home, port=free_port())
    assert "make setup" in excinfo.value.user_message()


def test_reset_deletes_state_and_down_is_idempotent(home: Settings) -> None:
    manager.up(home, port=free_port())
    assert manager.down(home) is True
    assert manager.down(home) is False
    manager.reset(home)
    assert not home.devnet_dir.exists()
    with pytest.raises(DevnetError):
        manager.status(home)


def test_dead_rpc_endpoint_is_a_chain_error() -> None:
    with pytest.raises(ChainError) as excinfo:
        connect(f"http://127.0.0.1:{free_port()}", timeout=2)
    assert "devnet up" in excinfo.value.user_message()


def test_cli_status_json_and_one_line_errors(home: Settings) -> None:
    env = {**os.environ, "FEDMARKET_HOME": str(home.home)}
    cli = [sys.executable, "-m", "fedmarket.cli"]
    down = subprocess.run([*cli, "devnet", "status"], env=env, capture_output=True, text=True)
    assert down.returncode == 1
    assert down.stderr.strip().startswith("error: no devnet is running")
    assert "Traceback" not in down.stderr
    port = free_port()
    up = subprocess.run(
        [*cli, "devnet", "up", "--port", str(port), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert up.returncode == 0, up.stderr
    status = json.loads(up.stdout)
    assert status["rpc_url"] == f"http://127.0.0.1:{port}"
    assert status["chain_id"] == 31337
    assert set(status["contracts"]) == {"Marketplace", "RewardToken"}
    assert isinstance(status["pid"], int) and isinstance(status["block"], int)


GANACHE = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "ganache"


@pytest.mark.skipif(not GANACHE.exists(), reason="ganache is not installed (npm ci)")
def test_ganache_engine_smoke_flow(home: Settings) -> None:
    result = manager.up(home, engine="ganache", port=free_port())
    assert result.deployed
    w3 = connect(result.node.rpc_url)
    requester = MarketplaceClient(w3, result.deployments.marketplace, account=dev_account(1))
    assert requester.task_count() == 0
    assert requester.min_window() == DEVNET_MIN_WINDOW_S
    spec = TaskSpec("smoke", ModelSpec("logreg", (64,), 10), "00" * 32, 10)
    before = requester.balance()
    created = create_task(
        requester,
        MemoryStore(),
        spec,
        aggregator=dev_account(2).address,
        arbiter=dev_account(4).address,
        rounds=1,
        round_budget=10**18,
        min_stake=10**18,
        settle_bond=10**17,
    )
    task = requester.task(created.task_id)
    assert (task.arbiter, task.settle_bond) == (dev_account(4).address, 10**17)
    assert requester.balance() == before - 10**18  # the budget is escrowed, no bond yet
    participant = requester.with_account(dev_account(3))
    participant.join(created.task_id, 10**18)
    assert participant.participant(created.task_id, participant.address)["joined"]
    # the arbiter may not take part, and the custom error survives Ganache's revert payload
    # (it keeps the data under "result")
    with pytest.raises(ContractRevert) as refused:
        requester.with_account(dev_account(4)).join(created.task_id, 10**18)
    assert refused.value.error_name == "MarketplaceRoleConflict"
    assert not requester.participant(created.task_id, dev_account(4).address)["joined"]
    requester.cancel(created.task_id)
    assert requester.phase(created.task_id).name == "CANCELLED"
    assert requester.balance() == before  # cancelling before round 1 returns the escrow
    with pytest.raises(DevnetError):
        manager.up(home, engine="anvil")
