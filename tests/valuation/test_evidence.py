"""Paying from accumulated evidence: standings, group clipping, the earliest-committer rule,
net pay without clipping, caps and FLI queues carried by address."""

from __future__ import annotations

import json

import numpy as np
import pytest

from valuation.config import RoundValuation
from valuation.errors import AllocationError, ReportError
from valuation.evidence import Evidence, fold, settle

A, B, C, D = "0xaa", "0xBb", "0xcc", "0xdd"


def recipe(**fields: object) -> RoundValuation:
    return RoundValuation(budget=1000, **fields)  # type: ignore[arg-type]


def test_fold_decays_everyone_and_adds_the_round() -> None:
    # prepare
    standing = {A: 2.0, D: 4.0}

    # act
    summed = fold(standing, [A, B], np.array([1.0, 3.0]), decay=1.0)
    faded = fold(standing, [A, B], np.array([1.0, 3.0]), decay=0.5)
    alone = fold(standing, [A, B], np.array([1.0, 3.0]), decay=0.0)

    # assert: D was absent and only decays; decay 0 keeps only this round
    assert summed == {A: 3.0, B: 3.0, D: 4.0}
    assert faded == {A: 2.0, B: 3.0, D: 2.0}
    assert alone == {A: 1.0, B: 3.0}


def test_a_round_pays_its_players_by_standing_not_by_its_own_values() -> None:
    # prepare: A earned a lot before; this round B looks better than A by chance
    previous = Evidence(standing={A: 9.0, B: 1.0}, rounds=3)

    # act
    cumulative = settle([1.0, 2.0], [A, B], recipe(evidence_decay=1.0), previous)
    one_round = settle([1.0, 2.0], [A, B], recipe(evidence_decay=0.0), previous)

    # assert
    assert cumulative.basis == (10.0, 3.0)
    assert cumulative.payouts == (769, 231)  # 1000 · 10/13, largest remainder
    assert one_round.payouts == (333, 667)
    assert cumulative.state.rounds == 4 and cumulative.state.standing == {A: 10.0, B: 3.0}
    assert cumulative.fairness["pearson"] == pytest.approx(1.0)


def test_absent_participants_are_not_paid_but_keep_their_standing() -> None:
    previous = Evidence(standing={A: 5.0, C: 50.0}, rounds=1)

    result = settle([1.0], [A], recipe(evidence_decay=1.0), previous)

    assert result.payouts == (1000,)
    assert result.state.standing == {A: 6.0, C: 50.0}


def test_a_group_is_clipped_as_a_whole_and_paid_to_its_earliest_committer() -> None:
    # prepare: A and C are one duplicate group; C committed first (priority 0)
    values = [3.0, 1.0, -2.0]
    config = recipe(evidence_decay=0.0)

    # act
    grouped = settle(values, [A, B, C], config, Evidence(), groups=[[0, 2]], priority=[1, 2, 0])

    # assert: the group is worth 3 - 2 = 1 (not max(0,3) + max(0,-2) = 3), all of it to C
    assert grouped.payouts == (0, 500, 500)
    separate = settle(values, [A, B, C], config, Evidence())
    assert separate.payouts == (750, 250, 0)  # per identity, A keeps its 3


def test_without_clipping_harm_counts_against_the_round() -> None:
    # prepare: B's update hurt: the round's net gain is 4 - 1 = 3 of a gross 4
    config = recipe(evidence_decay=0.0, clip_negative=False)

    # act
    result = settle([4.0, -1.0], [A, B], config, Evidence())

    # assert: A is paid the net gain's share of the budget, the rest stays unspent
    assert result.payouts == (750, 0)
    assert result.unspent == 250
    assert settle([4.0, -1.0], [A, B], recipe(evidence_decay=0.0), Evidence()).payouts == (1000, 0)


def test_cap_bounds_every_payout_and_redistributes() -> None:
    result = settle([8.0, 1.0, 1.0], [A, B, C], recipe(evidence_decay=0.0, cap=500), Evidence())

    assert result.payouts == (500, 250, 250)
    assert result.unspent == 0


def test_fli_queues_travel_by_address_across_rounds() -> None:
    # prepare: a capped round leaves A owed; next round A is absent, then it returns
    config = recipe(evidence_decay=0.0, allocation="fli", cap=600)

    # act
    first = settle([9.0, 1.0], [A, B], config, Evidence())
    second = settle([1.0], [B], config, first.state)
    third = settle([1.0, 1.0], [A, C], config, second.state)

    # assert: A was owed 900 and capped at 600; the 300 it is still owed waits for it
    assert first.payouts == (600, 100)
    assert first.state.regret[A] == pytest.approx(300.0) and first.state.waiting[A] == 1
    assert second.state.regret[A] == pytest.approx(300.0)  # kept while A was away
    assert third.payouts == (600, 400)  # equal values this round, A's arrears come first
    assert proportional_third() == (500, 500)


def proportional_third() -> tuple[int, ...]:
    return settle([1.0, 1.0], [A, C], recipe(evidence_decay=0.0, cap=600), Evidence()).payouts


def test_evidence_round_trips_through_json_and_rejects_nonsense() -> None:
    state = Evidence(standing={B: -0.5, A: 1.25}, rounds=2, regret={A: 3.5}, waiting={A: 1})

    again = Evidence.from_dict(json.loads(json.dumps(state.to_dict())))

    assert again == state
    assert Evidence.from_dict(None) == Evidence()
    with pytest.raises(ReportError):
        Evidence.from_dict({"standing": {A: float("nan")}, "rounds": 1})
    with pytest.raises(ReportError):
        Evidence.from_dict({"rounds": 1})


def test_settle_refuses_mismatched_inputs() -> None:
    with pytest.raises(AllocationError):
        settle([1.0], [A, B], recipe(), Evidence())
    with pytest.raises(AllocationError):
        settle([1.0, 2.0], [A, A], recipe(), Evidence())


# -- the entry cost per identity (identity_cost) -------------------------------------------


def test_an_entry_cost_changes_nothing_among_equal_payees() -> None:
    config = recipe(evidence_decay=0.0, identity_cost=0.1)

    result = settle([2.0, 2.0, 2.0, 2.0], [A, B, C, D], config, Evidence())

    assert result.payouts == (250, 250, 250, 250)
    assert result.basis == (2.0, 2.0, 2.0, 2.0)  # the report keeps the standings themselves


@pytest.mark.parametrize("k", [2, 3, 5])
def test_splitting_one_standing_over_k_identities_pays_less_than_one_identity(k: int) -> None:
    # prepare: the Sybil's data are worth 2.2 alone; split, its k identities are worth a bit
    # more together (2.3: more optimiser steps), which without a cost pays the split
    others = [2.0, 2.0, 2.0]
    alone = [2.2, *others]
    split = [2.3 / k] * k + others
    names = [f"0x{i:02x}" for i in range(len(split))]

    def sybil_pay(values: list[float], ids: int, cost: float) -> int:
        config = recipe(evidence_decay=0.0, identity_cost=cost)
        return sum(settle(values, names[: len(values)], config, Evidence()).payouts[:ids])

    # act / assert: splitting pays with no cost and loses with one
    assert sybil_pay(split, k, 0.0) > sybil_pay(alone, 1, 0.0)
    assert sybil_pay(split, k, 0.1) < sybil_pay(alone, 1, 0.1)


def test_an_entry_cost_leaves_a_payee_far_below_the_mean_unpaid() -> None:
    # prepare: D's standing (0.05) is under a tenth of the mean (3.05 / 4 = 0.7625)
    config = recipe(evidence_decay=0.0, identity_cost=0.1)

    result = settle([1.0, 1.0, 1.0, 0.05], [A, B, C, D], config, Evidence())

    assert result.payouts == (334, 333, 333, 0)
    assert result.unspent == 0


def test_a_duplicate_group_pays_one_entry_cost_on_its_earliest_committer() -> None:
    # prepare: C copied A (one group, A first); B is alone; the copy adds no identity
    config = recipe(evidence_decay=0.0, identity_cost=0.2)

    # act
    grouped = settle([3.0, 3.0, 0.0], [A, B, C], config, Evidence(), groups=[[0, 2]])

    # assert: two payees, equal standings, equal pay; the copier gets nothing
    assert grouped.payouts == (500, 500, 0)


def test_without_clipping_the_entry_cost_only_redistributes_the_net_gain() -> None:
    # prepare: net gain 4 - 1 = 3 of a gross 4 (plus 1 for C); the cost moves pay, not budget
    config = recipe(evidence_decay=0.0, clip_negative=False, identity_cost=0.1)

    # act
    result = settle([4.0, -1.0, 1.0], [A, B, C], config, Evidence())
    plain_config = recipe(evidence_decay=0.0, clip_negative=False)
    plain = settle([4.0, -1.0, 1.0], [A, B, C], plain_config, Evidence())

    # assert: the same 800 are paid; A (above the mean) gains from C (below it)
    assert sum(result.payouts) == sum(plain.payouts) == 800
    assert result.payouts[0] > plain.payouts[0] and result.payouts[2] < plain.payouts[2]


def test_a_player_whose_standing_is_exactly_zero_is_settled_not_a_crash() -> None:
    # an all-zero update is an exact null player: value 0.0, and fold drops zero standings
    result = settle([1.0, 0.0], [A, B], recipe(evidence_decay=0.0), Evidence())

    assert result.payouts == (1000, 0)
    assert result.basis == (1.0, 0.0)


# -- only this round's contributors are paid (round_gate) -----------------------------------


def test_a_history_does_not_pay_for_a_round_without_contribution() -> None:
    # prepare: A earned a large standing, then sends a near-null update this round
    previous = Evidence(standing={A: 10.0, B: 1.0}, rounds=3)
    values = [1e-6, 1.0]

    # act
    gated = settle(values, [A, B], recipe(evidence_decay=0.5, round_gate=0.1), previous)
    ungated = settle(values, [A, B], recipe(evidence_decay=0.5), previous)

    # assert: the gate pays B alone; A keeps its (decayed) standing for the rounds it contributes
    assert gated.payouts == (0, 1000)
    assert ungated.payouts[0] > ungated.payouts[1]  # without it, A's past outweighs B's round
    assert gated.state.standing[A] == pytest.approx(5.0 + 1e-6)
    assert gated.basis == ungated.basis


def test_the_gate_is_a_fraction_of_the_rounds_mean_positive_value() -> None:
    # prepare: mean positive value (1 + 1 + 0.3 + 0) / 4 = 0.575; a gate of 0.5 needs 0.2875
    values = [1.0, 1.0, 0.3, -0.2]
    config = recipe(evidence_decay=0.0, round_gate=0.5)

    # act
    result = settle(values, [A, B, C, D], config, Evidence())
    stricter = settle(values, [A, B, C, D], recipe(evidence_decay=0.0, round_gate=0.6), Evidence())

    # assert
    assert result.payouts == (435, 435, 130, 0)
    assert stricter.payouts == (500, 500, 0, 0)


def test_when_nobody_contributed_a_round_pays_nothing() -> None:
    previous = Evidence(standing={A: 4.0, B: 2.0}, rounds=2)

    result = settle([-0.1, -0.3], [A, B], recipe(evidence_decay=1.0, round_gate=0.1), previous)

    assert result.payouts == (0, 0)
    assert result.unspent == 1000
    assert result.state.standing == {A: pytest.approx(3.9), B: pytest.approx(1.7)}


def test_a_duplicate_group_passes_the_gate_on_its_summed_round_value() -> None:
    # A and C are one group (A first): 0.02 + 0.5 passes a gate that 0.02 alone would not
    config = recipe(evidence_decay=0.0, round_gate=0.1)

    result = settle([0.02, 1.0, 0.5], [A, B, C], config, Evidence(), groups=[[0, 2]])

    assert result.payouts[1] > 0 and result.payouts[0] > 0 and result.payouts[2] == 0
