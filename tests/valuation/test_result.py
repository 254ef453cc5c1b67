"""ValuationResult: validation, immutability and the JSON round trip."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from valuation.errors import ResultError
from valuation.result import ValuationResult


def sample_result(**changes: object) -> ValuationResult:
    fields: dict[str, object] = {
        "values": np.array([0.1, -0.2, 1 / 3]),
        "stderr": np.array([0.01, math.inf, 0.0]),
        "method": "tmc",
        "evaluations": 40,
        "cache_hits": 7,
        "samples": 16,
        "converged": False,
        "params": {"seed": 3, "tolerance": 0.001},
    }
    fields.update(changes)
    return ValuationResult(**fields)  # type: ignore[arg-type]


def test_json_round_trip_is_exact() -> None:
    result = sample_result()
    text = json.dumps(result.to_dict())
    again = ValuationResult.from_dict(json.loads(text))
    assert again == result
    np.testing.assert_array_equal(again.values, result.values)
    assert again.stderr is not None and math.isinf(again.stderr[1])


def test_exact_results_have_no_stderr() -> None:
    result = sample_result(stderr=None)
    assert ValuationResult.from_dict(result.to_dict()).stderr is None


def test_frozen_and_values_read_only() -> None:
    result = sample_result()
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.method = "exact"  # type: ignore[misc]
    with pytest.raises(ValueError):
        result.values[0] = 5.0


def test_input_array_is_copied() -> None:
    values = np.array([1.0, 2.0])
    result = sample_result(values=values, stderr=None)
    values[0] = 9.0
    assert result.values[0] == 1.0


@pytest.mark.parametrize(
    "changes",
    [
        {"values": np.array([[1.0]])},
        {"values": np.array([np.nan, 0.0, 0.0])},
        {"stderr": np.array([0.1, 0.1])},
        {"stderr": np.array([-0.1, 0.0, 0.0])},
        {"method": ""},
        {"evaluations": -1},
        {"samples": 2.5},
        {"cache_hits": True},
    ],
)
def test_inconsistent_fields_are_rejected(changes: dict[str, object]) -> None:
    with pytest.raises(ResultError):
        sample_result(**changes)


def test_from_dict_names_a_missing_field() -> None:
    data = sample_result().to_dict()
    del data["samples"]
    with pytest.raises(ResultError, match="samples"):
        ValuationResult.from_dict(data)
