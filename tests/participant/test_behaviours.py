"""Tests for participant.behaviours: what each simulated behaviour trains on and submits."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest

from marketplace.errors import ConfigError
from marketplace.protocol.dataset import Dataset
from participant.behaviours import (
    BEHAVIOURS,
    Behaviour,
    Dropout,
    FreeRider,
    Honest,
    LabelNoise,
    NoiseFreeRider,
    Scaled,
    SignFlip,
    params_norm,
    parse_behaviour,
)
from participant.data import load_digits
from participant.training import apply_update, evaluate, initial_params, train_local
from valuation.model_spec import ModelSpec

GLOBAL = {
    "a": np.full((2, 3), 2.0, dtype=np.float32),
    "b": np.array([1.0, -1.0], dtype=np.float32),
}
TRUE_UPDATE = {
    "a": np.arange(6, dtype=np.float32).reshape(2, 3) / 10,
    "b": np.array([0.5, 0.25], dtype=np.float32),
}


class RecordingTrainer:
    """A stand-in for local training: returns a fixed update and records its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[Dataset, int]] = []

    def __call__(self, global_params: Mapping[str, np.ndarray], ds: Dataset, seed: int) -> dict:
        self.calls.append((ds, seed))
        return {k: v.copy() for k, v in TRUE_UPDATE.items()}


def small_ds() -> Dataset:
    return Dataset(np.zeros((40, 2)), np.arange(40) % 4, 4)


def submit(behaviour: Behaviour, seed: int = 0) -> tuple[dict | None, RecordingTrainer]:
    trainer = RecordingTrainer()
    return behaviour.make_update(trainer, GLOBAL, small_ds(), seed), trainer


def test_honest_submits_the_trained_update_on_its_own_data() -> None:
    ds = small_ds()

    prepared = Honest().prepare_data(ds, seed=0)
    update, trainer = submit(Honest(), seed=7)

    assert prepared is ds
    assert update is not None
    assert all(np.array_equal(update[k], TRUE_UPDATE[k]) for k in TRUE_UPDATE)
    assert [seed for _, seed in trainer.calls] == [7]


def test_label_noise_flips_the_requested_fraction_once() -> None:
    ds = small_ds()

    prepared = LabelNoise(0.25).prepare_data(ds, seed=3)

    assert int((prepared.y != ds.y).sum()) == 10
    np.testing.assert_array_equal(prepared.X, ds.X)
    np.testing.assert_array_equal(LabelNoise(0.25).prepare_data(ds, seed=3).y, prepared.y)


def test_free_rider_submits_zero_without_training() -> None:
    update, trainer = submit(FreeRider())

    assert update is not None
    assert trainer.calls == []
    assert {k: v.shape for k, v in update.items()} == {k: v.shape for k, v in GLOBAL.items()}
    assert all(v.dtype == np.float32 and not v.any() for v in update.values())


def test_noise_free_rider_submits_seeded_noise_of_the_configured_norm() -> None:
    rider = NoiseFreeRider(0.2)

    a, trainer = submit(rider, seed=1)
    b, _ = submit(rider, seed=1)
    c, _ = submit(rider, seed=2)

    assert a is not None and b is not None and c is not None
    assert trainer.calls == []
    expected = 0.2 * np.sqrt(6 * 2.0**2 + 2 * 1.0**2)
    assert params_norm(a) == pytest.approx(expected, rel=1e-5)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["a"], c["a"])
    assert all(v.dtype == np.float32 for v in a.values())


def test_scaled_multiplies_and_sign_flip_negates_the_true_update() -> None:
    scaled, _ = submit(Scaled(3.0))
    flipped, _ = submit(SignFlip())

    assert scaled is not None and flipped is not None
    for k in TRUE_UPDATE:
        np.testing.assert_allclose(scaled[k], 3.0 * TRUE_UPDATE[k], rtol=1e-6)
        np.testing.assert_array_equal(flipped[k], -TRUE_UPDATE[k])


def test_dropout_extremes() -> None:
    assert all(submit(Dropout(0.0), seed=s)[0] is not None for s in range(20))
    assert all(submit(Dropout(1.0), seed=s)[0] is None for s in range(20))


def test_dropout_skips_about_p_of_the_rounds_and_is_seeded() -> None:
    dropout = Dropout(0.3)

    skipped = [not dropout.submits(seed) for seed in range(2000)]

    assert 0.25 < np.mean(skipped) < 0.35
    assert skipped == [not dropout.submits(seed) for seed in range(2000)]
    update, trainer = submit(dropout, seed=skipped.index(True))
    assert update is None and trainer.calls == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("honest", Honest()),
        ("label_noise:0.3", LabelNoise(0.3)),
        ("free_rider", FreeRider()),
        ("noise_free_rider:0.05", NoiseFreeRider(0.05)),
        ("scaled:10", Scaled(10.0)),
        ("sign_flip", SignFlip()),
        ("dropout:0.2", Dropout(0.2)),
        (" Label-Noise:0.5 ", LabelNoise(0.5)),
        ("dropout", Dropout()),
    ],
)
def test_parse_behaviour(text: str, expected: Behaviour) -> None:
    parsed = parse_behaviour(text)

    assert type(parsed) is type(expected)
    assert parsed == expected
    assert parse_behaviour(parsed.spec()) == parsed


def test_every_registered_behaviour_round_trips_through_its_spec() -> None:
    for name, make in BEHAVIOURS.items():
        behaviour = make()

        assert behaviour.name == name
        assert parse_behaviour(behaviour.spec()) == behaviour


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lazy", "unknown behaviour"),
        ("label_noise:lots", "not a number"),
        ("sign_flip:2", "takes no parameter"),
        ("label_noise:1.5", r"\[0, 1\]"),
        ("dropout:-0.1", r"\[0, 1\]"),
        ("noise_free_rider:0", "positive"),
        ("scaled:inf", "finite"),
    ],
)
def test_parse_behaviour_errors_are_clear(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_behaviour(text)


def test_with_real_training_sign_flip_hurts_and_honest_helps() -> None:
    spec = ModelSpec("mlp", (64,), 10, hidden=(16,))
    ds = load_digits().subset(np.arange(400))
    global_params = initial_params(spec, seed=0)

    def train(params: Mapping[str, np.ndarray], data: Dataset, seed: int) -> dict:
        return train_local(spec, params, data.X, data.y, epochs=3, lr=0.1, seed=seed)

    def loss_after(behaviour: Behaviour) -> float:
        update = behaviour.make_update(train, global_params, ds, seed=0)
        assert update is not None
        return evaluate(spec, apply_update(global_params, update), ds.X, ds.y)[1]

    baseline = evaluate(spec, global_params, ds.X, ds.y)[1]

    assert loss_after(Honest()) < baseline < loss_after(SignFlip())
    assert loss_after(FreeRider()) == pytest.approx(baseline)
