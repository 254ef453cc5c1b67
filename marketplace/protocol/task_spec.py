"""The task spec: the JSON a requester publishes on IPFS and commits to on-chain by its CID.

It tells participants what to train (model, hyperparameters) and tells everyone how rounds are
aggregated and valued (the valuation policy is :class:`valuation.config.ValuationConfig`), so
that an auditor can redo the coordinator's work from it. Canonical
JSON (sorted keys, no whitespace) so equal specs have equal CIDs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from marketplace.errors import ConfigError
from valuation.config import ValuationConfig
from valuation.model_spec import ModelSpec

__all__ = ["SPEC_VERSION", "TaskSpec", "TrainingConfig", "ValuationConfig"]

SPEC_VERSION = 1


@dataclass(frozen=True)
class TrainingConfig:
    """Local training hyperparameters every participant uses."""

    epochs: int = 5
    lr: float = 0.1
    batch_size: int = 32
    optimizer: str = "momentum"  # SGD with momentum 0.9

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or not self.lr > 0:
            raise ConfigError("training needs epochs >= 1, batch_size >= 1 and lr > 0")


@dataclass(frozen=True)
class TaskSpec:
    """Everything about a task that is not money or deadlines (those live on-chain)."""

    name: str
    model: ModelSpec
    validation_sha256: str
    validation_size: int
    training: TrainingConfig = field(default_factory=TrainingConfig)
    valuation: ValuationConfig = field(default_factory=ValuationConfig)
    aggregator: str = "fedavg"
    aggregator_params: dict[str, Any] = field(default_factory=dict)
    max_update_norm: float = 1_000.0
    max_update_bytes: int = 64 * 2**20
    dataset: str = "digits"
    version: int = SPEC_VERSION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["model"] = self.model.to_dict()
        data["valuation"] = self.valuation.to_dict()
        return data

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> TaskSpec:
        try:
            data = json.loads(raw)
            if data.get("version") != SPEC_VERSION:
                raise ConfigError(f"unsupported task spec version {data.get('version')!r}")
            return cls(
                name=str(data["name"]),
                model=ModelSpec.from_dict(data["model"]),
                validation_sha256=str(data["validation_sha256"]),
                validation_size=int(data["validation_size"]),
                training=TrainingConfig(**data.get("training", {})),
                valuation=ValuationConfig.from_dict(data.get("valuation", {})),
                aggregator=str(data.get("aggregator", "fedavg")),
                aggregator_params=dict(data.get("aggregator_params", {})),
                max_update_norm=float(data.get("max_update_norm", 1_000.0)),
                max_update_bytes=int(data.get("max_update_bytes", 64 * 2**20)),
                dataset=str(data.get("dataset", "")),
            )
        except ConfigError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"malformed task spec: {exc}") from exc
