"""The task spec: canonical JSON, older specs still load, the valuation policy validated,
the min_participants field, and data checked against the task's model."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from marketplace.errors import ConfigError
from marketplace.protocol.dataset import Dataset
from marketplace.protocol.task_spec import TaskSpec, check_dataset_shape, fit_to_model
from valuation.config import ValuationConfig
from valuation.model_spec import ModelSpec

MODEL = ModelSpec("mlp", (64,), 10, hidden=(8,))


def spec(**kwargs: object) -> TaskSpec:
    return TaskSpec("t", MODEL, "00" * 32, 10, **kwargs)  # type: ignore[arg-type]


def data(features: int, labels: list[int], classes: int = 10) -> Dataset:
    return Dataset(np.zeros((len(labels), features), np.float32), np.array(labels), classes)


def test_min_participants_round_trips_and_old_specs_default_to_one() -> None:
    stored = json.loads(spec(min_participants=3).to_json())
    old = {k: v for k, v in stored.items() if k != "min_participants"}

    assert TaskSpec.from_json(json.dumps(stored)).min_participants == 3
    assert TaskSpec.from_json(json.dumps(old)).min_participants == 1
    with pytest.raises(ConfigError):
        spec(min_participants=-1)


def test_data_that_fits_takes_the_models_classes() -> None:
    fitted = fit_to_model(data(64, [0, 3], classes=4), MODEL, "a.npz")

    assert fitted.num_classes == 10


@pytest.mark.parametrize(
    ("ds", "says"),
    [
        (data(32, [0, 1]), "a.npz has 32 features per sample, but task 3's model takes 64"),
        (data(64, [0, 12], classes=13), "a.npz has label 12, but task 3 has 10 classes"),
    ],
)
def test_data_that_does_not_fit_is_a_one_line_error(ds: Dataset, says: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(says)):
        fit_to_model(ds, MODEL, "a.npz", "task 3")


def test_a_digits_task_needs_digits_shaped_validation() -> None:
    check_dataset_shape(data(64, [0, 9]), "digits", "v.npz")
    check_dataset_shape(data(32, [0, 1], classes=2), "custom", "v.npz")
    with pytest.raises(ConfigError, match=r"v\.npz has 32 features and 10 classes"):
        check_dataset_shape(data(32, [0, 9]), "digits", "v.npz")


SPEC = TaskSpec(
    name="t",
    model=ModelSpec("mlp", (64,), 10, hidden=(8,)),
    validation_sha256="ab" * 32,
    validation_size=10,
)


def test_spec_round_trips_through_canonical_json() -> None:
    raw = SPEC.to_json()
    assert TaskSpec.from_json(raw) == SPEC
    assert TaskSpec.from_json(raw).to_json() == raw


def test_a_spec_written_before_newer_valuation_fields_still_loads() -> None:
    # prepare: a valuation object with only the fields the first release wrote
    data = json.loads(SPEC.to_json())
    data["valuation"] = {
        "method": "auto",
        "exact_max_players": 10,
        "score": "accuracy",
        "duplicate_threshold": 0.999,
        "clip_negative": True,
    }

    # act
    spec = TaskSpec.from_json(json.dumps(data))

    # assert
    assert spec.valuation.duplicate_threshold == 0.999
    assert spec.valuation == ValuationConfig.from_dict(data["valuation"])


@pytest.mark.parametrize(
    "valuation",
    [{"method": "shapley"}, {"score": "f1"}, {"no_such_setting": 1}],
)
def test_a_bad_valuation_policy_is_a_config_error(valuation: dict[str, object]) -> None:
    data = json.loads(SPEC.to_json())
    data["valuation"] = valuation
    with pytest.raises(ConfigError, match="malformed task spec"):
        TaskSpec.from_json(json.dumps(data))


def test_banzhaf_is_a_valid_task_method() -> None:
    data = json.loads(SPEC.to_json())
    data["valuation"] = {"method": "banzhaf"}
    assert TaskSpec.from_json(json.dumps(data)).valuation.method == "banzhaf"
