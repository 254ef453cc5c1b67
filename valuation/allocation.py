"""Fairness-aware allocation: integer payouts from contribution values, exactly and auditably.

Rules, in order:

1. Duplicate groups (:func:`valuation.duplicates.duplicate_groups`) are one payee whose value
   is the sum of its members' values (after a merged valuation that is the group's value), so
   holding data under several identities earns what one identity would.
2. Negative values are clipped to zero *per payee* — a group's sum, not each member — since
   clipping members one by one would pay a group more than the group is worth
   (``Σ max(0, v_j) ≥ max(0, Σ v_j)``). With ``clip_negative=False`` a negative value is an
   error. A payee whose value is zero or clipped is never paid.
3. Real shares are proportional to the values. An optional per-participant ``cap`` is enforced
   by water-filling: capped payees get exactly the cap and the excess is *redistributed* in
   proportion among the others; only when every paid payee is capped does budget stay unspent.
4. Real shares become integers by largest-remainder (Hamilton) rounding: everyone gets the
   floor, and the leftover units go to the largest remainders, ties broken by player order
   (``order_keys``, e.g. addresses; default index order). The sum is exactly the budget when
   any value is positive; when none is, nothing is paid and :class:`Allocation` says why.
5. A group's integer payout goes to its first member by ``payee_rank`` (e.g. the earliest
   committer) with ``group_payee="first"``, or is split among its members by the same
   rounding, in proportion to their own clipped values, with ``group_payee="split"``.

All arithmetic after reading the floats is exact (each float is an exact binary fraction, so
it is scaled to a common integer denominator and shares are compared as integer fractions):
every machine computes the same integers, and no rounding noise can flip a tie.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cmp_to_key
from typing import Any, Literal

import numpy as np

from valuation.duplicates import player_units
from valuation.errors import AllocationError

logger = logging.getLogger(__name__)

INT64_MAX = (1 << 63) - 1
NOTHING_TO_PAY = "no positive contribution: nothing paid, the whole budget stays unspent"

GroupPayee = Literal["split", "first"]


@dataclass(frozen=True)
class Allocation:
    """Integer payouts with the budget they came from and why any of it stayed unspent."""

    payouts: np.ndarray
    budget: int
    unspent: int
    note: str | None = None

    @property
    def paid(self) -> int:
        return self.budget - self.unspent


def allocate(
    values: Any,
    budget: int,
    *,
    order_keys: Sequence[Any] | None = None,
    clip_negative: bool = True,
    duplicate_groups: Sequence[Sequence[int]] | None = None,
    cap: int | Sequence[int] | np.ndarray | None = None,
    group_payee: GroupPayee = "split",
    payee_rank: Sequence[int] | None = None,
) -> np.ndarray:
    """Integer payouts (``int64``) for ``values`` out of ``budget``; see the module docstring.

    When nothing can be paid (no positive value) the payouts are all zero and a message is
    logged at WARNING level; :func:`allocation` returns that message in ``Allocation.note``.
    """
    result = allocation(
        values,
        budget,
        order_keys=order_keys,
        clip_negative=clip_negative,
        duplicate_groups=duplicate_groups,
        cap=cap,
        group_payee=group_payee,
        payee_rank=payee_rank,
    )
    if result.note:
        logger.warning(result.note)
    return result.payouts


def allocation(
    values: Any,
    budget: int,
    *,
    order_keys: Sequence[Any] | None = None,
    clip_negative: bool = True,
    duplicate_groups: Sequence[Sequence[int]] | None = None,
    cap: int | Sequence[int] | np.ndarray | None = None,
    group_payee: GroupPayee = "split",
    payee_rank: Sequence[int] | None = None,
) -> Allocation:
    """Like :func:`allocate` but returns the full :class:`Allocation` record.

    ``payee_rank`` orders players for ``group_payee="first"`` (lowest first; default: the
    payout order of ``order_keys``).
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1:
        raise AllocationError(f"values must be a 1-d vector, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise AllocationError("values must be finite")
    if isinstance(budget, bool) or not isinstance(budget, int | np.integer) or budget < 0:
        raise AllocationError(f"budget must be a non-negative integer, got {budget!r}")
    budget = int(budget)
    if budget > INT64_MAX:
        raise AllocationError(f"budget {budget} does not fit in int64; allocate in larger units")
    n = v.shape[0]
    if np.any(v < 0) and not clip_negative:
        raise AllocationError("negative values with clip_negative=False")
    if group_payee not in ("split", "first"):
        raise AllocationError(f"group_payee must be 'split' or 'first', got {group_payee!r}")
    rank = _ranks(n, order_keys)
    first = rank if payee_rank is None else _ranks(n, list(payee_rank))
    caps = _caps(cap, n)
    numerators = _exact_integers(v)  # signed, over one common denominator
    units = player_units(n, duplicate_groups)
    unit_value = [max(0, sum(numerators[i] for i in unit)) for unit in units]  # clip per payee
    unit_rank = [min(rank[i] for i in unit) for unit in units]
    unit_cap = None if caps is None else [min(caps[i] for i in unit) for unit in units]
    payouts = np.zeros(n, dtype=np.int64)
    if sum(unit_value) == 0:
        return Allocation(payouts=payouts, budget=budget, unspent=budget, note=NOTHING_TO_PAY)
    unit_pay = _apportion(unit_value, budget, unit_rank, unit_cap)
    for unit, pay in zip(units, unit_pay, strict=True):
        if len(unit) == 1:
            payouts[unit[0]] = pay
        elif pay and group_payee == "first":
            payouts[min(unit, key=lambda i: first[i])] = pay
        elif pay:
            inner = [max(0, numerators[i]) for i in unit]
            if sum(inner) == 0:  # cannot happen: a paid group has a positive member
                inner = [1] * len(unit)
            payouts[unit] = _apportion(inner, pay, [rank[i] for i in unit], None)
    unspent = budget - int(payouts.sum())
    note: str | None = None
    if unspent:
        note = f"every paid participant reached its cap: {unspent} of {budget} stays unspent"
    return Allocation(payouts=payouts, budget=budget, unspent=unspent, note=note)


def _ranks(n: int, order_keys: Sequence[Any] | None) -> list[int]:
    """Position of each player in payout order (ties of equal keys by index)."""
    if order_keys is None:
        return list(range(n))
    keys = list(order_keys)
    if len(keys) != n:
        raise AllocationError(f"{len(keys)} order keys for {n} players")
    order = sorted(range(n), key=lambda i: (keys[i], i))
    rank = [0] * n
    for position, i in enumerate(order):
        rank[i] = position
    return rank


def _caps(cap: int | Sequence[int] | np.ndarray | None, n: int) -> list[int] | None:
    if cap is None:
        return None
    array = np.asarray(cap)
    if array.ndim == 0:
        array = np.full(n, array)
    if array.shape != (n,) or not np.issubdtype(array.dtype, np.integer) or np.any(array < 0):
        raise AllocationError("cap must be a non-negative integer or one per participant")
    return [int(c) for c in array]


def _exact_integers(v: np.ndarray) -> list[int]:
    """Floats as integers over one common power-of-two denominator (exact, signs kept)."""
    ratios = [float(x).as_integer_ratio() for x in v]
    denominator = max(den for _, den in ratios)
    return [num * (denominator // den) for num, den in ratios]


def _apportion(
    weights: list[int], total: int, rank: list[int], caps: list[int] | None
) -> list[int]:
    """Integers summing to ``total`` (less only if every weighted unit is capped), in
    proportion to ``weights``, capped by water-filling, rounded by largest remainder."""
    m = len(weights)
    pay = [0] * m
    free = [k for k in range(m) if weights[k] > 0]
    remaining = total
    if caps is not None:
        # Units that reach their cap first as the proportional level rises: smallest cap/weight.
        def earlier(a: int, b: int) -> int:
            left, right = caps[a] * weights[b], caps[b] * weights[a]
            return -1 if left < right else 1 if left > right else rank[a] - rank[b]

        queue = sorted(free, key=cmp_to_key(earlier))
        pool = sum(weights[k] for k in free)
        capped = 0
        while capped < len(queue):
            k = queue[capped]
            if remaining * weights[k] <= caps[k] * pool:
                break
            pay[k] = caps[k]
            remaining -= caps[k]
            pool -= weights[k]
            capped += 1
        free = queue[capped:]
    pool = sum(weights[k] for k in free)
    if not free or pool == 0:
        return pay
    remainders: list[tuple[int, int, int]] = []
    handed = 0
    for k in free:
        whole, rest = divmod(remaining * weights[k], pool)
        pay[k] = whole
        handed += whole
        remainders.append((-rest, rank[k], k))
    remainders.sort()
    for _, _, k in remainders[: remaining - handed]:
        pay[k] += 1
    return pay
