"""Tests of the model-based coalition utility: batched evaluation against the one-by-one path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from valuation.architecture import build_module
from valuation.coalition import ModelUtility, Score
from valuation.errors import GameError
from valuation.model_spec import ModelSpec
from valuation.utility import CachedUtility, Utility, all_coalitions

SPECS = {
    "logreg": ModelSpec("logreg", (64,), 10),
    "mlp": ModelSpec("mlp", (64,), 10, hidden=(16, 12)),
    "cnn": ModelSpec("cnn", (1, 8, 8), 10, channels=(3, 4), hidden=(8,)),
    "cnn-shallow": ModelSpec("cnn", (1, 8, 8), 10, channels=(2,)),
}


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return X[:120] / 16.0, y[:120].astype(np.int64)


def _game(
    spec: ModelSpec, n: int, seed: int = 0
) -> tuple[dict[str, np.ndarray], list[dict[str, np.ndarray]], list[int]]:
    """A previous model and ``n`` random updates large enough to change predictions."""
    rng = np.random.default_rng(seed)
    module = build_module(spec, seed=seed)
    prev = {k: v.detach().numpy().astype(np.float64) for k, v in module.state_dict().items()}
    updates = [{k: rng.normal(0.0, 0.4, v.shape) for k, v in prev.items()} for _ in range(n)]
    counts = [int(c) for c in rng.integers(5, 50, n)]
    return prev, updates, counts


def _reference_score(
    spec: ModelSpec, params: dict[str, np.ndarray], X: np.ndarray, y: np.ndarray, score: str
) -> float:
    """Score of one model computed with a plain torch module (independent of ModelUtility)."""
    module = build_module(spec).double()
    module.load_state_dict({k: torch.from_numpy(v) for k, v in params.items()})
    with torch.no_grad():
        logits = module(torch.from_numpy(X).double().reshape(-1, *spec.input_shape))
    if score == "accuracy":
        return float((logits.argmax(dim=1).numpy() == y).mean())
    if score == "neg_brier":  # minus the multiclass Brier score, by hand in numpy
        z = logits.numpy() - logits.numpy().max(axis=1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        return -float(((p - np.eye(p.shape[1])[y]) ** 2).sum(axis=1).mean())
    return -float(torch.nn.functional.cross_entropy(logits, torch.from_numpy(y)))


@pytest.mark.parametrize("family", sorted(SPECS))
@pytest.mark.parametrize("score", ["accuracy", "neg_loss", "neg_brier"])
def test_batched_equals_one_by_one_for_every_coalition(
    digits: tuple[np.ndarray, np.ndarray], family: str, score: Score
) -> None:
    # prepare
    X, y = digits
    spec = SPECS[family]
    prev, updates, counts = _game(spec, n=5)
    utility = ModelUtility(spec, prev, updates, counts, X, y, score=score, batch_size=7)
    coalitions = list(all_coalitions(5))

    # act
    batched = utility.evaluate_many(coalitions)
    one_by_one = np.array([utility(c) for c in coalitions])

    # assert
    assert batched.dtype == np.float64
    np.testing.assert_allclose(batched, one_by_one, rtol=0, atol=1e-12)
    assert len(np.unique(batched)) > 5  # the updates really change the scores


@pytest.mark.parametrize("family", sorted(SPECS))
def test_empty_coalition_scores_the_previous_model(
    digits: tuple[np.ndarray, np.ndarray], family: str
) -> None:
    # prepare
    X, y = digits
    spec = SPECS[family]
    prev, updates, counts = _game(spec, n=3, seed=1)
    utility = ModelUtility(spec, prev, updates, counts, X, y, score="neg_loss")
    expected = _reference_score(spec, prev, X, y, "neg_loss")

    # act
    single = utility(frozenset())
    batched = utility.evaluate_many([frozenset(), frozenset({0, 1})])[0]

    # assert
    assert single == pytest.approx(expected, abs=1e-12)
    assert batched == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("score", ["accuracy", "neg_loss", "neg_brier"])
def test_reweighted_coalition_model_is_the_coalitions_own_average(
    digits: tuple[np.ndarray, np.ndarray], score: Score
) -> None:
    # prepare
    X, y = digits
    spec = SPECS["mlp"]
    prev, updates, _ = _game(spec, n=3, seed=2)
    counts = [10, 30, 60]
    utility = ModelUtility(
        spec, prev, updates, counts, X, y, score=score, coalition_model="reweighted"
    )
    coalition = frozenset({1, 2})
    expected_params = {
        k: (30 * (prev[k] + updates[1][k]) + 60 * (prev[k] + updates[2][k])) / 90 for k in prev
    }

    # act
    params = utility.coalition_params(coalition)
    value = utility.evaluate_many([coalition])[0]

    # assert
    for name, expected in expected_params.items():
        np.testing.assert_allclose(params[name], expected, rtol=0, atol=1e-12)
    assert value == pytest.approx(_reference_score(spec, expected_params, X, y, score), abs=1e-12)


@pytest.mark.parametrize("score", ["accuracy", "neg_loss", "neg_brier"])
def test_fixed_weights_coalition_model_keeps_the_rounds_weights(
    digits: tuple[np.ndarray, np.ndarray], score: Score
) -> None:
    # prepare: members keep the weight they have in the round's aggregate (total 100)
    X, y = digits
    spec = SPECS["mlp"]
    prev, updates, _ = _game(spec, n=3, seed=2)
    utility = ModelUtility(spec, prev, updates, [10, 30, 60], X, y, score=score)
    coalition = frozenset({1, 2})
    expected_params = {k: prev[k] + (30 * updates[1][k] + 60 * updates[2][k]) / 100 for k in prev}

    # act
    params = utility.coalition_params(coalition)
    value = utility.evaluate_many([coalition])[0]

    # assert
    for name, expected in expected_params.items():
        np.testing.assert_allclose(params[name], expected, rtol=0, atol=1e-12)
    assert value == pytest.approx(_reference_score(spec, expected_params, X, y, score), abs=1e-12)


@pytest.mark.parametrize(
    ("model", "rows"),
    [
        ("reweighted", [[0, 0, 0], [0.25, 0.75, 0], [1 / 8, 3 / 8, 4 / 8]]),
        ("fixed_weights", [[0, 0, 0], [1 / 8, 3 / 8, 0], [1 / 8, 3 / 8, 4 / 8]]),
    ],
)
def test_weights_rows_hold_sample_shares_of_members(model: str, rows: list[list[float]]) -> None:
    # prepare
    spec = SPECS["logreg"]
    prev, updates, _ = _game(spec, n=3)
    X, y = np.zeros((2, 64)), np.array([0, 1])
    utility = ModelUtility(spec, prev, updates, [1, 3, 4], X, y, coalition_model=model)  # type: ignore[arg-type]

    # act
    w = utility.weights([frozenset(), frozenset({0, 1}), frozenset({0, 1, 2})])

    # assert
    np.testing.assert_allclose(w, rows)


def test_an_aggregation_rules_coefficients_build_the_coalitions(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    # prepare: q-FFL-style weights c_i over normalisers h_i (not the sample counts)
    X, y = digits
    spec = SPECS["mlp"]
    prev, updates, counts = _game(spec, n=3, seed=6)
    c, h = [0.5, 2.0, 1.0], [1.0, 3.0, 2.0]
    fixed = ModelUtility(
        spec, prev, updates, counts, X, y, score="neg_loss", coefficients=c, normalizers=h
    )
    reweighted = ModelUtility(
        spec,
        prev,
        updates,
        counts,
        X,
        y,
        score="neg_loss",
        coefficients=c,
        normalizers=h,
        coalition_model="reweighted",
    )
    coalitions = [frozenset(), frozenset({0}), frozenset({0, 2}), frozenset({0, 1, 2})]

    # act
    w_fixed, w_re = fixed.weights(coalitions), reweighted.weights(coalitions)

    # assert: fixed weights divide by the whole round's Σh, reweighted by the coalition's
    np.testing.assert_allclose(w_fixed[2], [0.5 / 6, 0, 1.0 / 6])
    np.testing.assert_allclose(w_re[2], [0.5 / 3, 0, 1.0 / 3])
    np.testing.assert_allclose(w_fixed[3], w_re[3])  # the grand coalition is the aggregate
    one = [fixed(c) for c in coalitions]
    np.testing.assert_allclose(fixed.evaluate_many(coalitions), one, rtol=0, atol=1e-12)


def test_a_zero_update_is_a_null_player_under_fixed_weights(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    # prepare: player 2 returns the global model unchanged
    X, y = digits
    spec = SPECS["mlp"]
    prev, updates, counts = _game(spec, n=3, seed=8)
    updates[2] = {k: np.zeros_like(v) for k, v in updates[2].items()}
    fixed = ModelUtility(spec, prev, updates, counts, X, y, score="neg_loss")
    reweighted = ModelUtility(
        spec, prev, updates, counts, X, y, score="neg_loss", coalition_model="reweighted"
    )
    with_it = [frozenset({0, 2}), frozenset({1, 2}), frozenset({0, 1, 2})]
    without = [frozenset({0}), frozenset({1}), frozenset({0, 1})]

    # act
    fixed_diff = fixed.evaluate_many(with_it) - fixed.evaluate_many(without)
    reweighted_diff = reweighted.evaluate_many(with_it) - reweighted.evaluate_many(without)

    # assert: it changes no coalition's model under fixed weights, every one when reweighted
    np.testing.assert_array_equal(fixed_diff, 0.0)
    assert np.all(np.abs(reweighted_diff) > 1e-6)


def test_bad_rule_vectors_are_game_errors() -> None:
    spec = SPECS["logreg"]
    prev, updates, counts = _game(spec, n=2)
    X, y = np.zeros((2, 64)), np.array([0, 1])
    for kwargs in (
        {"coefficients": [1.0]},
        {"coefficients": [1.0, -1.0]},
        {"normalizers": [1.0, 0.0]},
        {"coalition_model": "average"},
    ):
        with pytest.raises(GameError):
            ModelUtility(spec, prev, updates, counts, X, y, **kwargs)  # type: ignore[arg-type]


def test_results_do_not_depend_on_chunk_size_or_instance(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    # prepare
    X, y = digits
    spec = SPECS["cnn"]
    prev, updates, counts = _game(spec, n=4, seed=3)
    coalitions = list(all_coalitions(4))[::-1]

    # act
    runs = [
        ModelUtility(
            spec, prev, updates, counts, X, y, score="neg_loss", batch_size=b
        ).evaluate_many(coalitions)
        for b in (1, 5, None)
    ]
    again = ModelUtility(spec, prev, updates, counts, X, y, score="neg_loss").evaluate_many(
        coalitions
    )

    # assert
    np.testing.assert_array_equal(runs[2], again)  # same inputs, same machine: identical bits
    for run in runs[:2]:
        np.testing.assert_allclose(run, runs[2], rtol=0, atol=1e-12)


def test_float32_agrees_with_float64_to_single_precision(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    # prepare
    X, y = digits
    spec = SPECS["mlp"]
    prev, updates, counts = _game(spec, n=4, seed=4)
    coalitions = list(all_coalitions(4))
    f64 = ModelUtility(spec, prev, updates, counts, X, y, score="neg_loss")
    f32 = ModelUtility(spec, prev, updates, counts, X, y, score="neg_loss", dtype=np.float32)

    # act
    expected = f64.evaluate_many(coalitions)
    found = f32.evaluate_many(coalitions)

    # assert
    np.testing.assert_allclose(found, expected, rtol=0, atol=1e-4)


def test_model_utility_is_a_cacheable_utility(digits: tuple[np.ndarray, np.ndarray]) -> None:
    # prepare
    X, y = digits
    spec = SPECS["logreg"]
    prev, updates, counts = _game(spec, n=3)
    utility = ModelUtility(spec, prev, updates, counts, X, y)
    cached = CachedUtility(utility)

    # act
    first = cached.evaluate_many([frozenset({0}), frozenset({0}), frozenset({1, 2})])
    second = cached(frozenset({1, 2}))

    # assert
    assert isinstance(utility, Utility)
    assert utility.n_players == 3
    assert cached.evaluations == 2
    assert first[0] == first[1]
    assert second == first[2]
    assert utility.evaluate_many([]).shape == (0,)


def test_free_rider_update_changes_nothing_alone(digits: tuple[np.ndarray, np.ndarray]) -> None:
    # prepare
    X, y = digits
    spec = SPECS["mlp"]
    prev, updates, counts = _game(spec, n=2, seed=5)
    updates[1] = {k: np.zeros_like(v) for k, v in prev.items()}
    utility = ModelUtility(spec, prev, updates, counts, X, y, score="neg_loss")

    # act
    alone, empty = utility.evaluate_many([frozenset({1}), frozenset()])

    # assert
    assert alone == empty


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("missing", "parameter names differ"),
        ("shape", "has shape"),
        ("nan", "NaN or Inf"),
        ("counts", "sample counts"),
        ("labels", "labels"),
        ("inputs", "do not fit"),
        ("score", "unknown score"),
    ],
)
def test_invalid_inputs_are_rejected(change: str, message: str) -> None:
    # prepare
    spec = SPECS["logreg"]
    prev, updates, counts = _game(spec, n=2)
    X, y = np.zeros((4, 64)), np.array([0, 1, 2, 3])
    kwargs: dict[str, object] = {}
    if change == "missing":
        del updates[0]["1.bias"]
    elif change == "shape":
        updates[1]["1.weight"] = np.zeros((3, 3))
    elif change == "nan":
        updates[0]["1.weight"] = updates[0]["1.weight"].copy()
        updates[0]["1.weight"][0, 0] = np.nan
    elif change == "counts":
        counts = [5, 0]
    elif change == "labels":
        y = np.array([0, 1, 2, 10])
    elif change == "inputs":
        X = np.zeros((4, 63))
    else:
        kwargs["score"] = "f1"

    # act / assert
    with pytest.raises(GameError, match=message):
        ModelUtility(spec, prev, updates, counts, X, y, **kwargs)  # type: ignore[arg-type]


def test_coalitions_outside_the_players_are_rejected() -> None:
    # prepare
    spec = SPECS["logreg"]
    prev, updates, counts = _game(spec, n=2)
    utility = ModelUtility(spec, prev, updates, counts, np.zeros((2, 64)), np.array([0, 1]))

    # act / assert
    with pytest.raises(GameError, match="outside"):
        utility.evaluate_many([frozenset({2})])
    with pytest.raises(GameError, match="outside"):
        utility(frozenset({-1}))
