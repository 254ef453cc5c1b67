"""One `Settings` object: the only place that reads fedmarket's environment variables.

Variables:
    FEDMARKET_HOME      all local state (devnet, deployments, content store, keystores, indexes);
                        default ``~/.fedmarket``.
    FEDMARKET_RPC_URL   JSON-RPC endpoint; default: the devnet's URL from its deployments file,
                        else ``http://127.0.0.1:8545``.
    FEDMARKET_MARKETPLACE  Marketplace contract address on that chain; default: the devnet's.
    FEDMARKET_IPFS      ``embedded`` (default: a block store under FEDMARKET_HOME) or the URL of a
                        Kubo RPC API, e.g. ``http://127.0.0.1:5001``. Writes always go there.
    FEDMARKET_IPFS_GATEWAYS  IPFS trustless gateways to read from when the store above lacks
                        a CID, tried in order, comma- or space-separated, e.g.
                        ``http://10.0.0.2:8080,http://10.0.0.3:8080`` (another node's
                        ``fedmarket ipfs serve``, ``fedmarket serve`` or a Kubo gateway). Every
                        block is verified against its CID; fetched content is kept locally.
    FEDMARKET_KEY_PASSWORD  password for keystore files when not prompted (scripts, the demo).
    FEDMARKET_DEBUG     any value: show tracebacks instead of one-line errors.
    NO_COLOR            any non-empty value: no colour in the terminal (https://no-color.org).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _default_home() -> Path:
    return Path(os.environ.get("FEDMARKET_HOME") or Path.home() / ".fedmarket").expanduser()


@dataclass(frozen=True)
class Settings:
    """Resolved configuration; build it with :meth:`from_env` and pass it down explicitly."""

    home: Path = field(default_factory=_default_home)
    rpc_url: str | None = None
    marketplace: str | None = None
    ipfs: str = "embedded"
    ipfs_gateways: tuple[str, ...] = ()
    key_password: str | None = None
    debug: bool = False
    color: bool = True

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Read the FEDMARKET_* variables (from ``environ`` or the process environment)."""
        env = dict(os.environ if environ is None else environ)
        home = Path(env.get("FEDMARKET_HOME") or Path.home() / ".fedmarket").expanduser()
        return cls(
            home=home,
            rpc_url=env.get("FEDMARKET_RPC_URL") or None,
            marketplace=env.get("FEDMARKET_MARKETPLACE") or None,
            ipfs=env.get("FEDMARKET_IPFS") or "embedded",
            ipfs_gateways=tuple(env.get("FEDMARKET_IPFS_GATEWAYS", "").replace(",", " ").split()),
            key_password=env.get("FEDMARKET_KEY_PASSWORD") or None,
            debug=bool(env.get("FEDMARKET_DEBUG")),
            color=not env.get("NO_COLOR"),
        )

    @property
    def devnet_dir(self) -> Path:
        """Devnet data: chain state file, pid file, logs, deployments."""
        return self.home / "devnet"

    @property
    def deployments_file(self) -> Path:
        return self.devnet_dir / "deployments.json"

    @property
    def store_dir(self) -> Path:
        """The embedded content store's block directory."""
        return self.home / "ipfs"

    @property
    def keystore_dir(self) -> Path:
        return self.home / "keystore"

    @property
    def index_dir(self) -> Path:
        """SQLite indexes of chain events (rebuildable from the chain)."""
        return self.home / "index"

    @property
    def state_dir(self) -> Path:
        """Per-process scratch state (never the source of truth; the chain is)."""
        return self.home / "state"
