"""Locating the npm-installed chain binaries (Anvil, Ganache) without downloading anything."""

from __future__ import annotations

import platform
import shutil
from pathlib import Path

from marketplace.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = PROJECT_ROOT / "node_modules"

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def anvil_binary() -> Path:
    """The native Anvil binary shipped in ``@foundry-rs/anvil-<os>-<arch>``.

    The platform binary is preferred over the node launcher in ``.bin/anvil`` so that the pid
    we record is Anvil's own (``kill -9`` on it really kills the chain).
    """
    arch = _ARCH.get(platform.machine().lower(), platform.machine().lower())
    system = platform.system().lower()
    native = NODE_MODULES / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / "anvil"
    if native.exists():
        return native
    launcher = NODE_MODULES / ".bin" / "anvil"
    if launcher.exists():
        return launcher
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    raise ConfigError(
        "Anvil is not installed (looked in node_modules/@foundry-rs and on PATH)",
        hint="run `make setup` (it runs `npm ci`) in the fedmarket checkout",
    )


def ganache_binary() -> Path:
    """Ganache's CLI from node_modules (Ganache is sunset upstream but still runs on Node 20)."""
    launcher = NODE_MODULES / ".bin" / "ganache"
    if launcher.exists():
        return launcher
    on_path = shutil.which("ganache")
    if on_path:
        return Path(on_path)
    raise ConfigError(
        "Ganache is not installed (looked in node_modules/.bin and on PATH)",
        hint="run `make setup` (it runs `npm ci`) in the fedmarket checkout",
    )
