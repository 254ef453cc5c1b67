"""The deployments file: where the devnet's contracts live and what built them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from marketplace.atomic_files import write_json_atomic
from marketplace.errors import ConfigError


@dataclass(frozen=True)
class Deployments:
    """Written once after deployment; read by every command that talks to the chain."""

    chain_id: int
    rpc_url: str
    engine: str
    deployed_block: int
    contracts: dict[str, str]
    artifact_hashes: dict[str, str] = field(default_factory=dict)
    deployer: str = ""

    @property
    def marketplace(self) -> str:
        return self.contracts["Marketplace"]

    @property
    def token(self) -> str:
        return self.contracts["RewardToken"]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Deployments:
        try:
            return cls(
                chain_id=int(data["chain_id"]),
                rpc_url=str(data["rpc_url"]),
                engine=str(data.get("engine", "anvil")),
                deployed_block=int(data["deployed_block"]),
                contracts={str(k): str(v) for k, v in data["contracts"].items()},
                artifact_hashes={
                    str(k): str(v) for k, v in data.get("artifact_hashes", {}).items()
                },
                deployer=str(data.get("deployer", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"deployments file is malformed: {exc}") from exc

    def save(self, path: Path) -> None:
        """Write atomically: a crash leaves the old file or the new one, never half of one."""
        write_json_atomic(path, self.to_dict())

    @classmethod
    def load(cls, path: Path) -> Deployments:
        if not path.exists():
            raise ConfigError(
                f"no deployments file at {path}",
                hint="start the devnet with `fedmarket devnet up`, or set FEDMARKET_HOME",
            )
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"deployments file {path} is not valid JSON: {exc}") from exc
        return cls.from_dict(data)
