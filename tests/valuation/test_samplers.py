"""Samplers: reproducible from a seed, and shaped the way each method needs."""

from __future__ import annotations

import numpy as np
import pytest

from valuation.errors import GameError
from valuation.samplers import (
    GuidedPermutationSampler,
    LatinPermutationSampler,
    PermutationSampler,
    PowerSetSampler,
    UniformSubsetSampler,
    masks_to_coalitions,
)


def test_same_seed_same_permutations_different_seed_different() -> None:
    a = PermutationSampler(7).sample(10, 20)
    b = PermutationSampler(7).sample(10, 20)
    c = PermutationSampler(8).sample(10, 20)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert all(sorted(row) == list(range(10)) for row in a.tolist())


def test_sampling_in_pieces_continues_the_same_stream() -> None:
    whole = PermutationSampler(3).sample(6, 9)
    sampler = PermutationSampler(3)
    pieces = np.vstack([sampler.sample(6, 4), sampler.sample(6, 5)])
    np.testing.assert_array_equal(whole, pieces)


def test_antithetic_permutations_come_in_reversed_pairs() -> None:
    perms = PermutationSampler(1, antithetic=True).sample(5, 7)
    for k in range(0, 6, 2):
        np.testing.assert_array_equal(perms[k + 1], perms[k][::-1])
    assert not np.array_equal(perms[2], perms[0])


def test_guided_permutations_put_each_player_first_once() -> None:
    perms = GuidedPermutationSampler(0).sample(6)
    np.testing.assert_array_equal(perms[:, 0], np.arange(6))
    assert all(sorted(row) == list(range(6)) for row in perms.tolist())
    np.testing.assert_array_equal(perms, GuidedPermutationSampler(0).sample(6))


def test_uniform_subsets_include_each_player_about_half_the_time() -> None:
    members = UniformSubsetSampler(2).sample(8, 4000)
    assert members.dtype == bool and members.shape == (4000, 8)
    assert np.all(np.abs(members.mean(axis=0) - 0.5) < 0.05)


def test_power_set_chunks_cover_every_mask_in_order() -> None:
    chunks = list(PowerSetSampler(chunk=8).chunks(5))
    assert [start for start, _ in chunks] == [0, 8, 16, 24]
    coalitions = [c for _, part in chunks for c in part]
    expected = [frozenset(i for i in range(5) if m >> i & 1) for m in range(32)]
    assert coalitions == expected


def test_power_set_smaller_than_one_chunk() -> None:
    (start, coalitions), *rest = PowerSetSampler().chunks(2)
    assert start == 0 and not rest
    assert coalitions == [frozenset(), frozenset({0}), frozenset({1}), frozenset({0, 1})]


def test_masks_to_coalitions() -> None:
    rows = np.array([[True, False, True], [False, False, False]])
    assert masks_to_coalitions(rows) == [frozenset({0, 2}), frozenset()]


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_bad_seeds_are_rejected(seed: object) -> None:
    with pytest.raises(GameError):
        PermutationSampler(seed)  # type: ignore[arg-type]


def test_power_set_chunk_must_be_a_power_of_two() -> None:
    with pytest.raises(GameError):
        PowerSetSampler(chunk=100)


@pytest.mark.parametrize("n", [1, 2, 5, 12])
def test_latin_block_puts_every_player_in_every_position_once(n: int) -> None:
    # prepare
    sampler = LatinPermutationSampler(4)

    # act
    blocks = [sampler.sample(n) for _ in range(3)]

    # assert
    for block in blocks:
        assert block.shape == (n, n) and block.dtype == np.int64
        for row in block.tolist():
            assert sorted(row) == list(range(n))
        for column in block.T.tolist():
            assert sorted(column) == list(range(n))
    if n > 2:
        assert not np.array_equal(blocks[0], blocks[1])


def test_latin_blocks_are_reproducible_from_the_seed() -> None:
    first = LatinPermutationSampler(9).sample(7)
    np.testing.assert_array_equal(LatinPermutationSampler(9).sample(7), first)
    assert not np.array_equal(LatinPermutationSampler(10).sample(7), first)


def test_antithetic_latin_blocks_alternate_with_their_reversal() -> None:
    sampler = LatinPermutationSampler(2, antithetic=True)
    first, second, third = sampler.sample(6), sampler.sample(6), sampler.sample(6)
    np.testing.assert_array_equal(second, first[:, ::-1])
    assert not np.array_equal(third, first)
    assert all(sorted(col) == list(range(6)) for col in second.T.tolist())


def test_latin_rows_place_predecessors_uniformly() -> None:
    # Each row must be a uniform permutation: for n=4 the chance that player 0 precedes
    # player 1 is 1/2 and that player 0 is first with player 1 second is 1/12.
    sampler = LatinPermutationSampler(5)
    rows = np.vstack([sampler.sample(4) for _ in range(3000)])
    position = np.argsort(rows, axis=1)
    before = np.mean(position[:, 0] < position[:, 1])
    first_two = np.mean((rows[:, 0] == 0) & (rows[:, 1] == 1))
    assert before == pytest.approx(0.5, abs=0.02)
    assert first_two == pytest.approx(1 / 12, abs=0.01)
