"""Tests for marketplace.aggregators: FedAvg, Median, TrimmedMean, Krum and the registry."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from marketplace.aggregators import (
    AGGREGATORS,
    QFFL,
    Aggregator,
    FedAvg,
    Krum,
    Median,
    TrimmedMean,
    get_aggregator,
)
from marketplace.errors import ConfigError


def scalars(*values: float) -> list[dict[str, np.ndarray]]:
    """One single-coordinate update per value."""
    return [{"w": np.array([v], dtype=np.float32)} for v in values]


def layered(rng: np.random.Generator, n: int) -> list[dict[str, np.ndarray]]:
    return [
        {
            "0.weight": rng.standard_normal((3, 4)).astype(np.float32),
            "0.bias": rng.standard_normal(3).astype(np.float32),
        }
        for _ in range(n)
    ]


ALL = [FedAvg(), Median(), TrimmedMean(0.2), Krum(f=1)]


# --- FedAvg -------------------------------------------------------------------------------------


def test_fedavg_is_the_exact_sample_weighted_mean() -> None:
    values = [0.5, -1.25, 3.0, 0.125]
    counts = [3, 1, 4, 8]
    exact = sum(Fraction(v) * n for v, n in zip(values, counts, strict=True)) / sum(counts)

    out = FedAvg().aggregate(scalars(*values), counts)

    assert out["w"].dtype == np.float32
    assert out["w"][0] == np.float32(float(exact))


def test_fedavg_gives_the_valuation_grand_coalition_model() -> None:
    rng = np.random.default_rng(0)
    theta = {"0.weight": rng.standard_normal((3, 4)), "0.bias": rng.standard_normal(3)}
    updates = layered(rng, 5)
    counts = [10, 40, 25, 5, 20]

    out = FedAvg().aggregate(updates, counts)

    for name, prev in theta.items():
        grand = prev + sum(
            n * u[name].astype(np.float64) for n, u in zip(counts, updates, strict=True)
        ) / sum(counts)
        np.testing.assert_allclose(prev + out[name], grand, rtol=0, atol=1e-6)


def test_fedavg_matches_the_valuation_games_grand_coalition_model() -> None:
    from valuation.coalition import ModelUtility
    from valuation.model_spec import ModelSpec, parameter_shapes

    spec = ModelSpec("mlp", (4,), 3, hidden=(5,))
    rng = np.random.default_rng(7)
    shapes = parameter_shapes(spec)
    prev = {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}
    updates = [
        {k: (0.1 * rng.standard_normal(s)).astype(np.float32) for k, s in shapes.items()}
        for _ in range(4)
    ]
    counts = [12, 3, 40, 7]
    game = ModelUtility(spec, prev, updates, counts, np.zeros((2, 4)), np.array([0, 1]))

    delta = FedAvg().aggregate(updates, counts)
    grand = game.coalition_params(frozenset(range(4)))

    for name in shapes:
        np.testing.assert_allclose(prev[name] + delta[name], grand[name], rtol=0, atol=1e-6)


def test_fedavg_cap_limits_the_influence_of_inflated_counts() -> None:
    updates = scalars(1.0, 0.0)

    capped = FedAvg(max_samples=100).aggregate(updates, [10_000, 100])
    precapped = FedAvg().aggregate(updates, [100, 100])

    assert capped["w"][0] == pytest.approx(0.5)
    assert np.array_equal(capped["w"], precapped["w"])


def test_fedavg_is_bitwise_reproducible() -> None:
    updates = layered(np.random.default_rng(1), 7)
    counts = [5, 9, 1, 30, 2, 2, 11]

    a = FedAvg().aggregate(updates, counts)
    b = FedAvg().aggregate([{k: v.copy() for k, v in u.items()} for u in updates], list(counts))

    assert all(a[k].tobytes() == b[k].tobytes() for k in a)


def test_fedavg_needs_a_positive_total() -> None:
    with pytest.raises(ValueError, match="positive total"):
        FedAvg().aggregate(scalars(1.0, 2.0), [0, 0])


def test_zero_count_participant_has_no_influence_on_fedavg() -> None:
    out = FedAvg().aggregate(scalars(1.0, 100.0), [4, 0])

    assert out["w"][0] == 1.0


# --- Median and trimmed mean --------------------------------------------------------------------


def test_median_is_coordinate_wise() -> None:
    updates = [
        {"w": np.array([1.0, 10.0], dtype=np.float32)},
        {"w": np.array([3.0, -5.0], dtype=np.float32)},
        {"w": np.array([2.0, 0.0], dtype=np.float32)},
    ]

    out = Median().aggregate(updates, [1, 1, 1])

    np.testing.assert_array_equal(out["w"], [2.0, 0.0])


def test_median_of_an_even_number_averages_the_middle_pair_and_ignores_counts() -> None:
    out = Median().aggregate(scalars(1.0, 2.0, 4.0, 1e6), [1, 1, 1, 1_000_000])

    assert out["w"][0] == 3.0


def test_trimmed_mean_drops_the_extremes() -> None:
    out = TrimmedMean(beta=0.2).aggregate(scalars(-1e6, 1.0, 2.0, 6.0, 1e6), [1] * 5)

    assert out["w"][0] == pytest.approx(3.0)


def test_trimmed_mean_with_beta_zero_is_the_unweighted_mean() -> None:
    out = TrimmedMean(beta=0.0).aggregate(scalars(1.0, 2.0, 6.0), [100, 1, 1])

    assert out["w"][0] == pytest.approx(3.0)


@pytest.mark.parametrize("beta", [-0.1, 0.5, float("nan")])
def test_trimmed_mean_rejects_bad_beta(beta: float) -> None:
    with pytest.raises(ValueError):
        TrimmedMean(beta)


# --- Krum ---------------------------------------------------------------------------------------
# For values 0, 1, 2, 10, 11 and f = 1 each score sums the n - f - 2 = 2 smallest squared
# distances: 0 -> 1 + 4 = 5, 1 -> 1 + 1 = 2, 2 -> 1 + 4 = 5, 10 -> 1 + 64 = 65, 11 -> 1 + 81 = 82.


def test_krum_scores_and_selection_by_hand() -> None:
    updates = scalars(0.0, 1.0, 2.0, 10.0, 11.0)
    krum = Krum(f=1)

    out = krum.aggregate(updates, [1] * 5)

    np.testing.assert_array_equal(
        krum.scores(np.array([[0.0], [1], [2], [10], [11]])), [5, 2, 5, 65, 82]
    )
    assert krum.select(updates) == [1]
    assert out["w"][0] == 1.0


def test_multi_krum_averages_the_best_m_and_breaks_ties_by_position() -> None:
    updates = scalars(0.0, 1.0, 2.0, 10.0, 11.0)

    assert Krum(f=1, m=2).select(updates) == [0, 1]
    assert Krum(f=1, m=2).aggregate(updates, [1] * 5)["w"][0] == 0.5
    assert Krum(f=1, m=3).aggregate(updates, [1] * 5)["w"][0] == 1.0


def test_krum_ignores_a_far_away_attacker_in_many_dimensions() -> None:
    rng = np.random.default_rng(3)
    honest = layered(rng, 6)
    attacker = {k: v * 0 + 50.0 for k, v in honest[0].items()}

    chosen = Krum(f=1, m=4).select([*honest, attacker])

    assert 6 not in chosen and len(chosen) == 4


def test_krum_needs_enough_updates() -> None:
    with pytest.raises(ValueError, match="more than 4"):
        Krum(f=1).aggregate(scalars(0.0, 1.0, 2.0, 3.0), [1] * 4)
    with pytest.raises(ValueError, match="exceeds"):
        Krum(f=1, m=5).aggregate(scalars(0.0, 1.0, 2.0, 3.0, 4.0), [1] * 5)


# --- shared behaviour ---------------------------------------------------------------------------


@pytest.mark.parametrize("aggregator", ALL, ids=repr)
def test_identical_updates_aggregate_to_themselves(aggregator: Aggregator) -> None:
    update = layered(np.random.default_rng(5), 1)[0]

    out = aggregator.aggregate([update] * 5, [3, 1, 4, 1, 5])

    assert sorted(out) == sorted(update)
    for k in update:
        assert out[k].dtype == np.float32
        np.testing.assert_allclose(out[k], update[k], rtol=1e-6)


@pytest.mark.parametrize("aggregator", ALL, ids=repr)
def test_inputs_are_validated(aggregator: Aggregator) -> None:
    good = scalars(1.0, 2.0, 3.0, 4.0, 5.0)

    with pytest.raises(ValueError, match="no updates"):
        aggregator.aggregate([], [])
    with pytest.raises(ValueError, match="sample counts"):
        aggregator.aggregate(good, [1, 1])
    with pytest.raises(ValueError, match="non-negative"):
        aggregator.aggregate(good, [1, 1, 1, 1, -1])
    with pytest.raises(ValueError, match="tensors"):
        aggregator.aggregate([*good[:4], {"v": np.zeros(1, dtype=np.float32)}], [1] * 5)
    with pytest.raises(ValueError, match="shape"):
        aggregator.aggregate([*good[:4], {"w": np.zeros(2, dtype=np.float32)}], [1] * 5)


@settings(max_examples=40, deadline=None)
@given(
    values=hnp.arrays(
        np.float32,
        st.tuples(st.integers(5, 9), st.integers(1, 4)),
        elements=st.floats(-1e3, 1e3, width=32),
    ),
    counts_seed=st.integers(0, 1000),
)
def test_every_aggregate_lies_within_the_coordinate_range(
    values: np.ndarray, counts_seed: int
) -> None:
    updates = [{"w": row} for row in values]
    counts = np.random.default_rng(counts_seed).integers(1, 100, size=len(updates)).tolist()
    low, high = values.min(axis=0), values.max(axis=0)

    for aggregator in ALL:
        out = aggregator.aggregate(updates, counts)["w"]

        assert np.all(out >= low) and np.all(out <= high), aggregator


# --- registry -----------------------------------------------------------------------------------


def test_registry_builds_every_aggregator_and_round_trips_params() -> None:
    for aggregator in [FedAvg(max_samples=50), Median(), TrimmedMean(0.3), Krum(f=2, m=3)]:
        rebuilt = get_aggregator(aggregator.name, **aggregator.params())

        assert rebuilt == aggregator
        assert type(rebuilt) is AGGREGATORS[aggregator.name]


def test_registry_errors_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown aggregator"):
        get_aggregator("mean")
    with pytest.raises(ConfigError, match="beta"):
        get_aggregator("trimmed_mean", beta=0.7)
    with pytest.raises(ConfigError, match="krum"):
        get_aggregator("krum", gamma=1)


# --- q-FFL --------------------------------------------------------------------------------------


def test_qffl_with_q_zero_is_fedavg_to_the_byte() -> None:
    updates = layered(np.random.default_rng(3), 4)
    counts = [5, 1, 7, 3]
    losses = [0.5, 2.0, 1.0, 0.1]

    qffl = QFFL(q=0.0).aggregate(updates, counts, losses)
    fedavg = FedAvg().aggregate(updates, counts)

    for name in fedavg:
        assert qffl[name].tobytes() == fedavg[name].tobytes()


def test_qffl_weighs_by_loss_to_the_power_q_and_damps_the_step() -> None:
    # prepare: two scalar updates, equal counts, the second participant's loss is 4x larger
    updates = scalars(1.0, -1.0)
    q, lipschitz = 1.0, 10.0

    # act
    c, h = QFFL(q=q, lipschitz=lipschitz).coalition_rule(updates, [1, 1], [0.5, 2.0])
    out = QFFL(q=q, lipschitz=lipschitz).aggregate(updates, [1, 1], [0.5, 2.0])

    # assert: c_i = p_i F_i^q; h_i = p_i (F_i^q + q L F_i^(q-1) |Δ_i|^2)
    np.testing.assert_allclose(c, [0.25, 1.0])
    np.testing.assert_allclose(h, [0.25 + 5.0, 1.0 + 5.0])
    assert out["w"][0] == pytest.approx((0.25 - 1.0) / 11.25, rel=1e-6)  # pulled towards Δ_2


def test_qffl_needs_losses_and_sane_parameters() -> None:
    assert QFFL.needs_losses and not FedAvg.needs_losses
    with pytest.raises(ValueError, match="loss"):
        QFFL().aggregate(scalars(1.0), [1])
    with pytest.raises(ValueError):
        QFFL(q=-1.0)
    with pytest.raises(ValueError):
        QFFL().aggregate(scalars(1.0, 2.0), [1, 1], [1.0])
    assert get_aggregator("qffl", **QFFL(q=2.0, lipschitz=5.0).params()) == QFFL(2.0, 5.0)


def test_linear_rules_describe_themselves_others_do_not() -> None:
    updates = scalars(1.0, 2.0, 3.0, 4.0, 5.0)
    c, h = FedAvg(max_samples=3).coalition_rule(updates, [1, 5, 2, 3, 9])
    np.testing.assert_array_equal(c, [1, 3, 2, 3, 3])
    np.testing.assert_array_equal(h, c)
    for other in (Median(), TrimmedMean(0.2), Krum(f=1)):
        assert other.coalition_rule(updates, [1] * 5) is None
