"""Tests for participant.training: initial weights, local updates, evaluation, applying updates."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from marketplace.protocol.dataset import Dataset
from participant.data import load_digits
from participant.training import apply_update, evaluate, initial_params, train_local
from valuation.model_spec import ModelSpec, parameter_shapes

MLP = ModelSpec("mlp", (64,), 10, hidden=(16,))


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_digits().subset(np.arange(300))


def test_initial_params_match_the_spec_and_the_seed() -> None:
    a = initial_params(MLP, seed=1)
    b = initial_params(MLP, seed=1)
    c = initial_params(MLP, seed=2)

    assert {k: v.shape for k, v in a.items()} == parameter_shapes(MLP)
    assert all(v.dtype == np.float32 for v in a.values())
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_train_local_returns_an_update_of_the_same_layout(digits: Dataset) -> None:
    global_params = initial_params(MLP, seed=0)

    update = train_local(MLP, global_params, digits.X, digits.y, seed=0)

    assert {k: v.shape for k, v in update.items()} == parameter_shapes(MLP)
    assert all(v.dtype == np.float32 for v in update.values())
    assert any(np.abs(v).max() > 0 for v in update.values())


def test_train_local_is_deterministic_given_the_seed(digits: Dataset) -> None:
    global_params = initial_params(MLP, seed=0)

    a = train_local(MLP, global_params, digits.X, digits.y, epochs=2, seed=5)
    b = train_local(MLP, global_params, digits.X, digits.y, epochs=2, seed=5)
    c = train_local(MLP, global_params, digits.X, digits.y, epochs=2, seed=6)

    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_train_local_leaves_inputs_and_global_rng_alone(digits: Dataset) -> None:
    global_params = initial_params(MLP, seed=0)
    before = {k: v.copy() for k, v in global_params.items()}
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)

    train_local(MLP, global_params, digits.X, digits.y, seed=0)

    assert torch.equal(torch.rand(3), expected_next)
    assert all(np.array_equal(global_params[k], before[k]) for k in before)


def test_thread_setting_is_restored_after_training(digits: Dataset) -> None:
    before = torch.get_num_threads()

    train_local(MLP, initial_params(MLP, 0), digits.X, digits.y, num_threads=1)

    assert torch.get_num_threads() == before


def test_update_is_trained_minus_global(digits: Dataset) -> None:
    global_params = initial_params(MLP, seed=0)

    update = train_local(MLP, global_params, digits.X, digits.y, epochs=0, seed=0)

    assert all(not v.any() for v in update.values())


def test_training_lowers_the_training_loss(digits: Dataset) -> None:
    global_params = initial_params(MLP, seed=0)
    _, loss_before = evaluate(MLP, global_params, digits.X, digits.y)

    update = train_local(
        MLP, global_params, digits.X, digits.y, epochs=10, lr=0.1, batch_size=8, seed=0
    )
    accuracy, loss_after = evaluate(MLP, apply_update(global_params, update), digits.X, digits.y)

    assert loss_after < 0.5 * loss_before
    assert accuracy > 0.8


@pytest.mark.parametrize(("optimizer", "lr"), [("sgd", 0.1), ("momentum", 0.05), ("adam", 0.01)])
def test_every_optimizer_learns(digits: Dataset, optimizer: str, lr: float) -> None:
    global_params = initial_params(MLP, seed=0)
    _, loss_before = evaluate(MLP, global_params, digits.X, digits.y)

    update = train_local(
        MLP, global_params, digits.X, digits.y, epochs=3, lr=lr, optimizer=optimizer, seed=0
    )

    assert evaluate(MLP, apply_update(global_params, update), digits.X, digits.y)[1] < loss_before


def test_cnn_trains_on_image_shaped_data() -> None:
    spec = ModelSpec("cnn", (1, 8, 8), 10, channels=(4,), hidden=(16,))
    images = load_digits(flat=False).subset(np.arange(200))
    global_params = initial_params(spec, seed=0)

    update = train_local(spec, global_params, images.X, images.y, epochs=3, lr=0.1, seed=0)

    before = evaluate(spec, global_params, images.X, images.y)[1]
    after = evaluate(spec, apply_update(global_params, update), images.X, images.y)[1]
    assert after < before


def test_progress_is_reported_after_each_epoch(digits: Dataset) -> None:
    calls: list[tuple[int, int]] = []

    train_local(
        MLP,
        initial_params(MLP, 0),
        digits.X,
        digits.y,
        epochs=3,
        progress=lambda done, total: calls.append((done, total)),
    )

    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_evaluate_matches_a_hand_computed_logistic_model() -> None:
    spec = ModelSpec("logreg", (2,), 2)
    params = {
        "1.weight": np.eye(2, dtype=np.float32),
        "1.bias": np.zeros(2, dtype=np.float32),
    }
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    y = np.array([0, 1, 1])
    right = -math.log(math.e / (math.e + 1))
    wrong = -math.log(1 / (math.e + 1))

    accuracy, loss = evaluate(spec, params, X, y)

    assert accuracy == pytest.approx(2 / 3)
    assert loss == pytest.approx((2 * right + wrong) / 3, rel=1e-6)


def test_apply_update_adds_a_scaled_update() -> None:
    params = {"w": np.array([1.0, 2.0], dtype=np.float32)}
    update = {"w": np.array([0.5, -1.0], dtype=np.float32)}

    out = apply_update(params, update, scale=2.0)

    np.testing.assert_array_equal(out["w"], np.array([2.0, 0.0], dtype=np.float32))
    assert out["w"].dtype == np.float32
    np.testing.assert_array_equal(params["w"], [1.0, 2.0])


def test_apply_update_rejects_mismatched_layouts() -> None:
    params = {"w": np.zeros(2, dtype=np.float32)}

    with pytest.raises(ValueError, match="names"):
        apply_update(params, {"v": np.zeros(2, dtype=np.float32)})
    with pytest.raises(ValueError, match="shape"):
        apply_update(params, {"w": np.zeros(3, dtype=np.float32)})


def test_train_local_rejects_bad_inputs(digits: Dataset) -> None:
    good = initial_params(MLP, 0)
    wrong_shape = dict(good)
    wrong_shape["1.weight"] = np.zeros((3, 3), dtype=np.float32)
    missing = {k: v for k, v in good.items() if k != "1.bias"}

    with pytest.raises(ValueError, match="shape"):
        train_local(MLP, wrong_shape, digits.X, digits.y)
    with pytest.raises(ValueError, match="missing"):
        train_local(MLP, missing, digits.X, digits.y)
    with pytest.raises(ValueError, match="optimizer"):
        train_local(MLP, good, digits.X, digits.y, optimizer="lbfgs")
    with pytest.raises(ValueError, match="labels"):
        train_local(MLP, good, digits.X, digits.y + 10)
    with pytest.raises(ValueError, match="do not fit"):
        train_local(MLP, good, digits.X[:, :10], digits.y)
    with pytest.raises(ValueError, match="num_threads"):
        train_local(MLP, good, digits.X, digits.y, num_threads=0)
    with pytest.raises(ValueError, match="no samples"):
        train_local(MLP, good, digits.X[:0], digits.y[:0])
