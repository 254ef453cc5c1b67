"""The Flower integration's parts that need no deployment: records, strategy checks, state."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

pytest.importorskip("flwr", reason="the flower extra is not installed: pip install -e '.[flower]'")

from flwr.serverapp.strategy import FedAdam, FedAvg, FedMedian, FedTrimmedAvg

from fedflower import client as paid_client
from fedflower.records import from_array_record, get_bytes, get_int, to_array_record
from fedflower.strategy import PaidStrategy
from marketplace.errors import ConfigError, ProtocolError
from marketplace.protocol.task_spec import TaskSpec
from marketplace.protocol.weights import encode_weights
from participant.participation import Submission
from valuation.model_spec import ModelSpec

pytestmark = pytest.mark.flower

MODEL = ModelSpec("mlp", (64,), 10, hidden=(64, 64))


def test_arrays_cross_flower_records_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    params = {"1.weight": rng.normal(size=(64, 64)).astype(np.float32),
              "1.bias": rng.normal(size=64).astype(np.float32)}  # fmt: skip
    back = from_array_record(to_array_record(params))
    assert encode_weights(back) == encode_weights(params)  # same bytes, same CID


def test_record_fields_are_type_checked() -> None:
    assert get_int({"round": 3}, "round") == 3
    assert get_bytes({}, "update") == b""
    with pytest.raises(ProtocolError):
        get_int({"round": b"3"}, "round")
    with pytest.raises(ProtocolError):
        get_bytes({"update": "text"}, "update")


def _coordinator(aggregator: str, **params: Any) -> Any:
    spec = TaskSpec("t", MODEL, "00" * 32, 10, aggregator=aggregator, aggregator_params=params)
    return SimpleNamespace(client=None, store=None, task_id=7, spec=spec)


@pytest.mark.parametrize(
    ("strategy", "aggregator", "params"),
    [(FedAvg(), "fedavg", {}), (FedMedian(), "median", {}),
     (FedTrimmedAvg(beta=0.2), "trimmed_mean", {"beta": 0.2})],
)  # fmt: skip
def test_a_strategy_that_aggregates_like_the_task_is_accepted(
    strategy: Any, aggregator: str, params: dict[str, Any]
) -> None:
    paid = PaidStrategy(strategy, _coordinator(aggregator, **params))
    assert paid.inner is strategy


@pytest.mark.parametrize(
    ("strategy", "aggregator", "params"),
    [(FedAdam(), "fedavg", {}), (FedAvg(), "median", {}),
     (FedTrimmedAvg(beta=0.3), "trimmed_mean", {"beta": 0.2})],
)  # fmt: skip
def test_a_strategy_the_audit_could_not_reproduce_is_refused(
    strategy: Any, aggregator: str, params: dict[str, Any]
) -> None:
    with pytest.raises(ConfigError):
        PaidStrategy(strategy, _coordinator(aggregator, **params))


def test_the_committed_submission_survives_the_clientapp_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEDMARKET_HOME", str(tmp_path))
    node: Any = SimpleNamespace(task_id=3, address="0xAbC", log=lambda _line: None)
    submission = Submission(2, "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
                            b"\1" * 32, 40, b"\2" * 32, b"\3" * 32)  # fmt: skip
    paid_client._save(node, submission)
    path = paid_client._path(node, 2)
    assert path.stat().st_mode & 0o077 == 0  # the salt stays private to this host's user
    assert paid_client._load(node, 2) == submission
    assert paid_client._load(node, 1) is None
