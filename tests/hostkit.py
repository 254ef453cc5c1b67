"""Several hosts on one machine: separate homes and processes, on loopback or in namespaces.

A :class:`Cluster` gives each named host its own ``$FEDMARKET_HOME`` and, with
``netns=True``, its own Linux network namespace wired to a private bridge (itself in a
namespace of its own, so nothing touches the machine's real network): host ``i`` gets
``10.200.0.(10+i)/24`` and reaches the others only through that bridge. Processes are started
inside their host's namespace (``ip netns exec``) and bind their services to the host's
address, so the only traffic between hosts is what the test lets cross: JSON-RPC, Flower's
API and the IPFS gateways. ``cut``/``restore`` take a host's link down and up. On loopback
every host's address is 127.0.0.1 and services get free ports instead.

Everything the cluster made is removed by :meth:`Cluster.close`, even after a failure:
processes (killed by their own process group id), veth pairs and namespaces. Names carry a
per-run id, so concurrent runs never collide.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUBNET = "10.200.0"
PASSWORD = "multihost-test-password"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def netns_unavailable() -> str | None:
    """Why network namespaces cannot be used here (None when they can)."""
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs as root)"
    probe = f"fmprobe{secrets.token_hex(3)}"
    try:
        _ip("netns", "add", probe)
        _ip("-n", probe, "link", "add", "br0", "type", "bridge")
        _ip("-n", probe, "link", "add", "va", "type", "veth", "peer", "name", "vb")
    except (subprocess.CalledProcessError, OSError) as exc:
        detail = exc.stderr.strip() if isinstance(exc, subprocess.CalledProcessError) else exc
        return f"cannot create network namespaces, bridges or veth pairs here: {detail}"
    finally:
        _ip("netns", "del", probe, check=False)
    return None


@dataclass
class Host:
    """One machine of the federation: a name, a home, an address, maybe a namespace."""

    name: str
    home: Path
    address: str
    netns: str | None = None
    port_of: Callable[[str, int], int] = field(default=lambda _service, default: default)

    def command(self, argv: Sequence[str]) -> list[str]:
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        return [*prefix, *argv]

    def url(self, service: str, default_port: int) -> str:
        return f"http://{self.address}:{self.port(service, default_port)}"

    def port(self, service: str, default_port: int) -> int:
        return self.port_of(service, default_port)


class Cluster:
    """Hosts, their processes and (netns) their network; :meth:`close` removes everything."""

    def __init__(self, root: Path, names: Sequence[str], *, netns: bool) -> None:
        self.root = root
        self.netns = netns
        self.run_id = secrets.token_hex(3)
        self.processes: list[subprocess.Popen[bytes]] = []
        self._namespaces: list[str] = []
        self._ports: dict[tuple[str, str], int] = {}
        self.switch = f"fm{self.run_id}sw"
        self.hosts: dict[str, Host] = {}
        try:
            if netns:
                self._make_switch()
            for i, name in enumerate(names):
                self.hosts[name] = self._make_host(i, name)
        except BaseException:
            self.close()
            raise

    # -- topology ------------------------------------------------------------------------

    def _make_switch(self) -> None:
        _ip("netns", "add", self.switch)
        self._namespaces.append(self.switch)
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.switch, "link", "set", "br0", "up")

    def _port_on_switch(self, i: int) -> str:
        return f"p{self.run_id}{i}"

    def _make_host(self, i: int, name: str) -> Host:
        home = self.root / name
        home.mkdir(parents=True, exist_ok=True)
        if not self.netns:
            return Host(name, home, "127.0.0.1", None, self._free_port_for(name))
        ns = f"fm{self.run_id}{name}"
        _ip("netns", "add", ns)
        self._namespaces.append(ns)
        inner, outer = f"v{self.run_id}{i}", self._port_on_switch(i)
        _ip("link", "add", inner, "netns", ns, "type", "veth", "peer", "name", outer,
            "netns", self.switch)  # fmt: skip
        address = f"{SUBNET}.{10 + i}"
        _ip("-n", ns, "addr", "add", f"{address}/24", "dev", inner)
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", ns, "link", "set", inner, "up")
        _ip("-n", self.switch, "link", "set", outer, "master", "br0")
        _ip("-n", self.switch, "link", "set", outer, "up")
        return Host(name, home, address, ns)

    def _free_port_for(self, name: str) -> Callable[[str, int], int]:
        from gateway_kit import free_port

        def port(service: str, _default: int) -> int:
            key = (name, service)
            if key not in self._ports:
                self._ports[key] = free_port()
            return self._ports[key]

        return port

    def cut(self, name: str) -> None:
        """Take the host's link down (its switch port): it can reach nobody, nobody it."""
        self._set_link(name, "down")

    def restore(self, name: str) -> None:
        self._set_link(name, "up")

    def _set_link(self, name: str, state: str) -> None:
        if not self.netns:
            raise RuntimeError("links exist only between namespaces")
        i = list(self.hosts).index(name)
        _ip("-n", self.switch, "link", "set", self._port_on_switch(i), state)

    def traffic(self) -> int:
        """Bytes every host has sent over its link so far (what crossed host boundaries)."""
        if not self.netns:
            return 0
        total = 0
        for i, host in enumerate(self.hosts.values()):
            shown = _ip(
                "-n", str(host.netns), "-s", "-j", "link", "show", "dev", f"v{self.run_id}{i}"
            )
            total += int(json.loads(shown.stdout)[0]["stats64"]["tx"]["bytes"])
        return total

    # -- processes -----------------------------------------------------------------------

    def environ(self, host: Host, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("FEDMARKET_", "FLWR_"))},
            "FEDMARKET_HOME": str(host.home),
            "FEDMARKET_KEY_PASSWORD": PASSWORD,
            "PYTHONPATH": str(ROOT),
            # Flower's SuperLink and SuperNode start their helpers (flower-superexec, ...) by name
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "NO_PROXY": "*",
        }
        env.update(extra or {})
        return env

    def start(
        self,
        host: Host,
        argv: Sequence[str],
        *,
        log: str,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start ``argv`` on ``host`` (its own process group), output appended to a log."""
        out = (self.root / "logs").joinpath(f"{log}.log")
        out.parent.mkdir(exist_ok=True)
        with out.open("ab") as fh:
            proc = subprocess.Popen(
                host.command(argv),
                env=self.environ(host, env),
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                cwd=cwd or ROOT,
            )
        self.processes.append(proc)
        return proc

    def run(
        self,
        host: Host,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float = 180,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            host.command(argv),
            env=self.environ(host, env),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd or ROOT,
            stdin=subprocess.DEVNULL,
        )

    def fedmarket(
        self, host: Host, *args: str, env: Mapping[str, str] | None = None, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        """Run ``fedmarket ARGS`` on ``host``; fail the test with its stderr if it fails."""
        done = self.run(host, [sys.executable, "-m", "fedmarket.cli", *args], env=env,
                        timeout=timeout)  # fmt: skip
        if done.returncode != 0:
            raise AssertionError(f"fedmarket {' '.join(args)} on {host.name} failed:\n"
                                 f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}")  # fmt: skip
        return done

    def log(self, name: str) -> str:
        path = self.root / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
        """Signal ``proc``'s process group (this cluster started it) and reap it."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)

    def close(self) -> None:
        """Kill every process this cluster started, then delete its namespaces."""
        for proc in self.processes:
            with contextlib.suppress(Exception):
                self.stop(proc, signal.SIGKILL)
        for home in (h.home for h in self.hosts.values()):
            _kill_recorded_chain(home)
        for ns in reversed(self._namespaces):
            _ip("netns", "del", ns, check=False)
        self._namespaces.clear()


def _kill_recorded_chain(home: Path) -> None:
    """`fedmarket devnet up` detaches the chain; stop it through its pid file."""
    node = home / "devnet" / "node.json"
    if node.exists():
        with contextlib.suppress(Exception):
            os.kill(int(json.loads(node.read_text())["pid"]), signal.SIGKILL)


def wait_for(
    predicate: Callable[[], object], *, timeout: float, what: str, poll: float = 0.3
) -> None:
    """Poll until ``predicate()`` is truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
