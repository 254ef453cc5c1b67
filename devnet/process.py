"""Starting and stopping the local chain process (Anvil by default, Ganache optionally).

The process runs detached from the terminal (its own session) so `fedmarket devnet up` can
return; its pid, engine and port are recorded in ``<devnet dir>/node.json``. Anvil persists its
state with ``--state FILE --state-interval 1``: the file is rewritten every second and on a
clean exit, so a crash (even ``kill -9``) loses at most the last second of transactions.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from devnet.accounts import DEV_MNEMONIC
from devnet.tools import anvil_binary, ganache_binary
from marketplace.atomic_files import write_json_atomic
from marketplace.errors import DevnetError

ENGINES = ("anvil", "ganache")
CHAIN_ID = 31337
STATE_INTERVAL_S = 1
BLOCK_TIME_S = 1


@dataclass(frozen=True)
class NodeInfo:
    """What `up` recorded about the running chain process."""

    pid: int
    engine: str
    port: int
    host: str = "127.0.0.1"

    @property
    def rpc_url(self) -> str:
        return f"http://{self.host}:{self.port}"


def state_file(devnet_dir: Path) -> Path:
    return devnet_dir / "anvil-state.json"


def node_file(devnet_dir: Path) -> Path:
    return devnet_dir / "node.json"


def log_file(devnet_dir: Path) -> Path:
    return devnet_dir / "chain.log"


def read_node(devnet_dir: Path) -> NodeInfo | None:
    path = node_file(devnet_dir)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
        return NodeInfo(int(data["pid"]), str(data["engine"]), int(data["port"]), data["host"])
    except (ValueError, KeyError, TypeError):
        return None


def pid_alive(pid: int) -> bool:
    """True when ``pid`` is a live (non-zombie) process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (for tests and benchmarks that start a devnet)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def rpc_ready(rpc_url: str, timeout: float = 1.0) -> bool:
    """True when the endpoint answers ``eth_chainId``."""
    try:
        resp = httpx.post(
            rpc_url,
            json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
            timeout=timeout,
        )
        return resp.status_code == 200 and "result" in resp.json()
    except (httpx.HTTPError, ValueError):
        return False


def engine_command(engine: str, devnet_dir: Path, host: str, port: int) -> list[str]:
    """The command line that starts ``engine`` with persistent state under ``devnet_dir``."""
    if engine == "anvil":
        return [
            str(anvil_binary()),
            "--host", host,
            "--port", str(port),
            "--mnemonic", DEV_MNEMONIC,
            "--chain-id", str(CHAIN_ID),
            "--state", str(state_file(devnet_dir)),
            "--state-interval", str(STATE_INTERVAL_S),
            # Mine each transaction at once *and* an (empty) block every second, so block
            # time keeps moving: deadlines pass on-chain even when nobody sends a transaction.
            "--mixed-mining",
            "--block-time", str(BLOCK_TIME_S),
        ]  # fmt: skip
    if engine == "ganache":
        return [
            str(ganache_binary()),
            "--server.host", host,
            "--server.port", str(port),
            "--wallet.mnemonic", DEV_MNEMONIC,
            "--chain.chainId", str(CHAIN_ID),
            "--chain.hardfork", "shanghai",
            "--database.dbPath", str(devnet_dir / "ganache-db"),
            "--logging.quiet",
            "--miner.blockTime", str(BLOCK_TIME_S),
        ]  # fmt: skip
    raise DevnetError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")


def start(
    devnet_dir: Path,
    *,
    engine: str = "anvil",
    port: int = 8545,
    host: str = "127.0.0.1",
    ready_timeout: float = 60.0,
    port_wait: float = 0.0,
) -> NodeInfo:
    """Start the chain detached and wait until its RPC answers.

    ``port_wait`` gives a port a few seconds to free up: after a crash, the kernel can hold
    the dead chain's sockets on it for a moment.
    """
    deadline = time.monotonic() + port_wait
    while port_in_use(host, port) and time.monotonic() < deadline:
        time.sleep(0.2)
    if port_in_use(host, port):
        raise DevnetError(
            f"port {port} on {host} is already in use",
            hint="stop whatever listens there, or choose another port with --port",
        )
    devnet_dir.mkdir(parents=True, exist_ok=True)
    if engine == "ganache":
        (devnet_dir / "ganache-db").mkdir(exist_ok=True)
    cmd = engine_command(engine, devnet_dir, host, port)
    log = log_file(devnet_dir).open("ab")
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True, cwd=devnet_dir,
    )  # fmt: skip
    log.close()
    info = NodeInfo(pid=proc.pid, engine=engine, port=port, host=host)
    write_json_atomic(node_file(devnet_dir), {"pid": info.pid, "engine": engine, "port": port,
                                              "host": host})  # fmt: skip
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_file(devnet_dir).read_text(errors="replace")[-2000:]
            node_file(devnet_dir).unlink(missing_ok=True)
            raise DevnetError(
                f"{engine} exited with code {proc.returncode} while starting:\n{tail}"
            )
        if rpc_ready(info.rpc_url):
            return info
        time.sleep(0.1)
    stop(devnet_dir)
    raise DevnetError(f"{engine} did not answer on {info.rpc_url} within {ready_timeout:.0f}s")


def stop(devnet_dir: Path, timeout: float = 15.0) -> bool:
    """Stop the recorded chain process (SIGTERM, so Anvil dumps its state); True if one ran."""
    info = read_node(devnet_dir)
    if info is None:
        return False
    was_running = pid_alive(info.pid)
    if was_running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(info.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pid_alive(info.pid) and time.monotonic() < deadline:
            _reap(info.pid)
            time.sleep(0.05)
        if pid_alive(info.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(info.pid, signal.SIGKILL)
        _reap(info.pid)
    node_file(devnet_dir).unlink(missing_ok=True)
    return was_running


def _reap(pid: int) -> None:
    """Collect the exit status if the process is our child (tests start it in-process)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def running(devnet_dir: Path) -> NodeInfo | None:
    """The recorded process if it is alive and answering, else None."""
    info = read_node(devnet_dir)
    if info is None or not pid_alive(info.pid):
        return None
    return info if rpc_ready(info.rpc_url) else None
