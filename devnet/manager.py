"""`devnet up | down | status | reset`: the functions behind the CLI (tests call these directly)."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devnet import process
from devnet.deploy import deploy_all
from marketplace.chain.deployments import Deployments
from marketplace.chain.rpc import connect
from marketplace.errors import DevnetError
from marketplace.settings import Settings

DEFAULT_PORT = 8545
#: How long `up` waits for the port of a chain that crashed to be released by the kernel.
CRASHED_PORT_WAIT_S = 20.0


@dataclass(frozen=True)
class UpResult:
    """What `up` did: started or found the chain, deployed or reused the contracts."""

    node: process.NodeInfo
    deployments: Deployments
    started: bool
    deployed: bool
    restored: bool

    def describe(self) -> str:
        lines = []
        if not self.started:
            lines.append(f"devnet already running at {self.node.rpc_url} (pid {self.node.pid})")
        elif self.restored:
            lines.append(
                f"devnet restored from saved state at {self.node.rpc_url} (pid {self.node.pid}); "
                "state is saved every second, so after a crash up to the last second of "
                "transactions may be lost"
            )
        else:
            lines.append(f"devnet started at {self.node.rpc_url} (pid {self.node.pid})")
        what = "deployed" if self.deployed else "reused"
        lines.append(
            f"contracts {what}: Marketplace {self.deployments.marketplace}, "
            f"RewardToken {self.deployments.token}"
        )
        return "\n".join(lines)


def up(
    settings: Settings, *, engine: str = "anvil", port: int | None = None, host: str = "127.0.0.1"
) -> UpResult:
    """Start (or find) the devnet and make sure the contracts are deployed.

    ``port=None`` means the running devnet's port, else 8545. ``host`` is the interface the
    chain listens on (another address than loopback lets other hosts reach it).
    """
    devnet_dir = settings.devnet_dir
    existing = _load_deployments(settings)
    if existing is not None and existing.engine != engine:
        raise DevnetError(
            f"the devnet under {devnet_dir} was created with {existing.engine}, not {engine}",
            hint=f"use --engine {existing.engine}, or `fedmarket devnet reset` first",
        )
    node = process.running(devnet_dir)
    started = node is None
    if port is None:
        port = node.port if node is not None else DEFAULT_PORT
    if node is not None and node.port != port:
        raise DevnetError(
            f"the devnet is already running on port {node.port}",
            hint="stop it with `fedmarket devnet down` to change the port",
        )
    had_state = _has_saved_state(devnet_dir, engine)
    if node is None:
        crashed = process.read_node(devnet_dir)  # a record left by a chain that died
        process.stop(devnet_dir)  # clears that stale record
        wait = CRASHED_PORT_WAIT_S if crashed is not None and crashed.port == port else 0.0
        node = process.start(devnet_dir, engine=engine, port=port, host=host, port_wait=wait)
    w3 = connect(node.rpc_url)
    deployments = existing
    deployed = False
    if deployments is not None and not _code_present(w3, deployments):
        deployments = None  # the saved chain is gone (reset by hand, or state lost): redeploy
    if deployments is None:
        deployments = deploy_all(w3, rpc_url=node.rpc_url, engine=engine)
        deployments.save(settings.deployments_file)
        deployed = True
        if engine == "anvil":
            _wait_for_state_dump(devnet_dir, since=time.time())
    elif deployments.rpc_url != node.rpc_url:
        deployments = Deployments.from_dict({**deployments.to_dict(), "rpc_url": node.rpc_url})
        deployments.save(settings.deployments_file)
    restored = started and had_state and not deployed
    return UpResult(node, deployments, started, deployed, restored)


def down(settings: Settings) -> bool:
    """Stop the devnet (its state is kept); True if it was running."""
    return process.stop(settings.devnet_dir)


def reset(settings: Settings) -> None:
    """Stop the devnet and delete its state and deployments."""
    process.stop(settings.devnet_dir)
    if settings.devnet_dir.exists():
        shutil.rmtree(settings.devnet_dir)


def status(settings: Settings) -> dict[str, Any]:
    """Head block, addresses and balances of the running devnet."""
    node = process.running(settings.devnet_dir)
    if node is None:
        raise DevnetError(
            f"no devnet is running for FEDMARKET_HOME={settings.home}",
            hint="start it with `fedmarket devnet up`",
        )
    deployments = Deployments.load(settings.deployments_file)
    w3 = connect(node.rpc_url)
    from devnet.accounts import dev_accounts
    from marketplace.chain.contracts import token_contract

    token = token_contract(w3, deployments.token)
    accounts = []
    for acct in dev_accounts():
        accounts.append(
            {
                "address": acct.address,
                "eth": int(w3.eth.get_balance(acct.address)),
                "tokens": int(token.functions.balanceOf(acct.address).call()),
            }
        )
    return {
        "rpc_url": node.rpc_url,
        "chain_id": int(w3.eth.chain_id),
        "block": int(w3.eth.block_number),
        "pid": node.pid,
        "engine": node.engine,
        "contracts": {
            "Marketplace": deployments.marketplace,
            "RewardToken": deployments.token,
        },
        "deployed_block": deployments.deployed_block,
        "accounts": accounts,
    }


def _load_deployments(settings: Settings) -> Deployments | None:
    if not settings.deployments_file.exists():
        return None
    return Deployments.load(settings.deployments_file)


def _code_present(w3: Any, deployments: Deployments) -> bool:
    return all(len(w3.eth.get_code(addr)) > 0 for addr in deployments.contracts.values())


def _has_saved_state(devnet_dir: Path, engine: str) -> bool:
    if engine == "anvil":
        return process.state_file(devnet_dir).exists()
    return (devnet_dir / "ganache-db").exists() and any((devnet_dir / "ganache-db").iterdir())


def _wait_for_state_dump(devnet_dir: Path, since: float, timeout: float = 5.0) -> None:
    """Block until Anvil has written its state file after ``since`` (it does so every second)."""
    path = process.state_file(devnet_dir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_mtime > since:
            return
        time.sleep(0.1)
    raise DevnetError(f"anvil did not write its state file {path} within {timeout:.0f}s")
