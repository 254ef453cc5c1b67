"""Shapley and Banzhaf axioms on hypothesis-generated games (tables over all coalitions)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from valuation_games import table_game

from valuation.methods import ExactShapley, banzhaf_from_utilities, shapley_from_utilities

FINITE = st.floats(min_value=-100, max_value=100, allow_nan=False, allow_infinity=False)


@st.composite
def games(draw: st.DrawFn, min_players: int = 1, max_players: int = 6) -> np.ndarray:
    n = draw(st.integers(min_players, max_players))
    return np.array(draw(st.lists(FINITE, min_size=1 << n, max_size=1 << n)))


def n_of(u: np.ndarray) -> int:
    return int(u.shape[0]).bit_length() - 1


def make_null(u: np.ndarray, k: int) -> np.ndarray:
    """Player k adds nothing: u(S ∪ {k}) = u(S)."""
    out = u.copy()
    for mask in range(u.shape[0]):
        if mask >> k & 1:
            out[mask] = out[mask ^ (1 << k)]
    return out


def make_symmetric(u: np.ndarray, a: int, b: int) -> np.ndarray:
    """Players a and b are interchangeable: u(S) = u(S with a and b swapped)."""
    out = u.copy()
    for mask in range(u.shape[0]):
        if mask >> a & 1 and not mask >> b & 1:
            out[mask] = out[mask ^ (1 << a) ^ (1 << b)]
    return out


@settings(max_examples=60, deadline=None)
@given(games())
def test_efficiency(u: np.ndarray) -> None:
    values = shapley_from_utilities(u, n_of(u))
    assert np.isclose(values.sum(), u[-1] - u[0], rtol=0, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(games(min_players=2), st.data())
def test_symmetry(u: np.ndarray, data: st.DataObject) -> None:
    n = n_of(u)
    a, b = data.draw(st.lists(st.integers(0, n - 1), min_size=2, max_size=2, unique=True))
    game = make_symmetric(u, a, b)
    shapley = shapley_from_utilities(game, n)
    banzhaf = banzhaf_from_utilities(game, n)
    assert np.isclose(shapley[a], shapley[b], rtol=0, atol=1e-9)
    assert np.isclose(banzhaf[a], banzhaf[b], rtol=0, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(games(), st.data())
def test_null_player(u: np.ndarray, data: st.DataObject) -> None:
    n = n_of(u)
    k = data.draw(st.integers(0, n - 1))
    game = make_null(u, k)
    assert shapley_from_utilities(game, n)[k] == 0.0
    assert banzhaf_from_utilities(game, n)[k] == 0.0


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda n: st.tuples(*(st.lists(FINITE, min_size=1 << n, max_size=1 << n),) * 2)
    )
)
def test_additivity(pair: tuple[list[float], list[float]]) -> None:
    u, v = np.array(pair[0]), np.array(pair[1])
    n = n_of(u)
    np.testing.assert_allclose(
        shapley_from_utilities(u + v, n),
        shapley_from_utilities(u, n) + shapley_from_utilities(v, n),
        rtol=0,
        atol=1e-9,
    )
    np.testing.assert_allclose(
        banzhaf_from_utilities(u + v, n),
        banzhaf_from_utilities(u, n) + banzhaf_from_utilities(v, n),
        rtol=0,
        atol=1e-9,
    )


@settings(max_examples=25, deadline=None)
@given(games(max_players=5))
def test_method_through_a_utility_matches_the_table_formula(u: np.ndarray) -> None:
    result = ExactShapley().fit(table_game(u))
    np.testing.assert_array_equal(result.values, shapley_from_utilities(u, n_of(u)))
    assert result.evaluations == u.shape[0]
