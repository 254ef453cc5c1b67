"""The task spec: canonical JSON, older specs still load, the valuation policy validated."""

from __future__ import annotations

import json

import pytest

from marketplace.errors import ConfigError
from marketplace.protocol.task_spec import TaskSpec
from valuation.config import ValuationConfig
from valuation.model_spec import ModelSpec

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
