"""The fidelity benchmark (bench/fidelity.py) drives the real round computation; a round of it
must keep running as ``RoundInputs`` evolves, and its Sybil design must measure what it says."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "fidelity.py"


@pytest.fixture(scope="module")
def fidelity() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fidelity_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fidelity_bench"] = module
    spec.loader.exec_module(module)
    return module


def test_a_bench_round_runs_through_compute_round_and_pays_the_budget(fidelity: ModuleType) -> None:
    # prepare: three data owners on digits, one local round each
    world = fidelity.World.build(1, 3, 1.0)
    theta = fidelity.initial_params(fidelity.MODEL, 1)
    subs = fidelity.honest_round(world, theta, 0)

    # act
    first = fidelity.Task.create(world.validation)
    result = first.run(theta, subs, seed=1)
    again = first.run(result.theta, fidelity.honest_round(world, result.theta, 1), seed=1)

    # assert: every unit paid, to the three of them, and the evidence carried into round 2
    assert sum(result.payouts.values()) == fidelity.BUDGET
    assert set(result.payouts) == {c.name for c in world.clients}
    assert again.outcome.report.round == 2 and sum(again.payouts.values()) == fidelity.BUDGET
    assert result.outcome.evidence is not None


def test_a_split_client_holds_the_same_data_over_k_identities(fidelity: ModuleType) -> None:
    client = fidelity.World.build(1, 2, 1.0).clients[0]

    parts = client.split(3, seed=5)

    assert sum(p.n for p in parts) == client.n and len({p.name for p in parts}) == 3
    assert sorted(int(v) for p in parts for v in p.y) == sorted(int(v) for v in client.y)
