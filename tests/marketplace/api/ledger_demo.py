"""One demo run per test session, shared by the API and browser tests (it takes a minute or two).

The first caller starts an Anvil devnet on a free port under a temporary FEDMARKET_HOME, runs
`run_demo` with two rounds against it and keeps the devnet up; later callers get the same
result. ``shutdown()`` (idempotent) stops the devnet at the end of the session.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from devnet import manager
from devnet.process import free_port
from devnet.tools import NODE_MODULES
from fedmarket.demo import DemoConfig, DemoResult, run_demo
from marketplace.settings import Settings


@dataclass(frozen=True)
class LedgerDemo:
    settings: Settings
    result: DemoResult
    validation: Path  # the requester's validation set (not published on-chain by the demo)

    @property
    def task_id(self) -> int:
        return self.result.task_id

    @property
    def addresses(self) -> list[str]:
        return [str(p["address"]) for p in self.result.participants]


_lock = threading.Lock()
_demo: LedgerDemo | None = None
_home: Path | None = None


def anvil_available() -> bool:
    return (NODE_MODULES / "@foundry-rs").exists()


def shared_demo() -> LedgerDemo:
    """The session's demo run (started on first use)."""
    global _demo, _home
    with _lock:
        if _demo is None:
            _home = Path(tempfile.mkdtemp(prefix="fedmarket-api-"))
            settings = Settings(home=_home)
            manager.up(settings, port=free_port())
            result = run_demo(settings, DemoConfig(rounds=2), keep_devnet=True,
                              log=lambda _m: None)  # fmt: skip
            _demo = LedgerDemo(settings, result, _home / "demo" / "validation.npz")
        return _demo


def shutdown() -> None:
    """Stop the devnet and delete the temporary home (no-op when nothing was started)."""
    global _demo, _home
    with _lock:
        if _home is not None:
            manager.down(Settings(home=_home))
            shutil.rmtree(_home, ignore_errors=True)
        _demo, _home = None, None
