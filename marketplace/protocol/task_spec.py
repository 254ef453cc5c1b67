"""The task spec: the JSON a requester publishes on IPFS and commits to on-chain by its CID.

It tells participants what to train (model, hyperparameters) and tells everyone how rounds are
aggregated and valued (the valuation policy is :class:`valuation.config.ValuationConfig`), so
that an auditor can redo the coordinator's work from it. Canonical
JSON (sorted keys, no whitespace) so equal specs have equal CIDs.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from marketplace.errors import ConfigError
from marketplace.protocol.dataset import Dataset
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
class DatasetShape:
    """What samples of a named data set look like: features per sample and classes."""

    features: int
    num_classes: int
    about: str


#: Data sets a task can name (``TaskSpec.dataset``). A requester's validation file must have
#: their shape; any other name (``custom``) takes its shape from the validation file.
DATASETS: dict[str, DatasetShape] = {
    "digits": DatasetShape(64, 10, "scikit-learn's digits: 8x8 images as 64 features, labels 0-9"),
}


def fit_to_model(ds: Dataset, model: ModelSpec, source: str, task: str = "the task") -> Dataset:
    """``ds`` with the model's number of classes, or a one-line ConfigError saying what differs.

    Checked before anything is staked or published: features per sample against the model's
    input, and every label against its classes.
    """
    features = math.prod(ds.input_shape)
    if features != model.input_dim:
        raise ConfigError(
            f"{source} has {features} features per sample, but {task}'s model takes "
            f"{model.input_dim}",
            hint="use data with the same columns as the task's data set",
        )
    top = int(ds.y.max()) if len(ds) else 0
    if top >= model.num_classes:
        raise ConfigError(
            f"{source} has label {top}, but {task} has {model.num_classes} classes "
            f"(labels 0 to {model.num_classes - 1})",
            hint="labels must be class indices of the task's data set",
        )
    if ds.num_classes == model.num_classes:
        return ds
    return Dataset(ds.X, ds.y, model.num_classes)


def check_dataset_shape(ds: Dataset, dataset: str, source: str) -> None:
    """A requester's validation set must fit the data set the task names (if a known one)."""
    shape = DATASETS.get(dataset)
    if shape is None:
        return
    features = math.prod(ds.input_shape)
    if features != shape.features or ds.num_classes != shape.num_classes:
        raise ConfigError(
            f"{source} has {features} features and {ds.num_classes} classes, but a {dataset} "
            f"task needs {shape.features} and {shape.num_classes} ({shape.about})",
            hint=f"pass --dataset custom to make a task shaped like {source}",
        )


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
    min_participants: int = 1  # the coordinator opens round 1 once this many have joined
    version: int = SPEC_VERSION

    def __post_init__(self) -> None:
        if self.min_participants < 0:
            raise ConfigError("min_participants must not be negative")

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
                min_participants=int(data.get("min_participants", 1)),
            )
        except ConfigError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"malformed task spec: {exc}") from exc
