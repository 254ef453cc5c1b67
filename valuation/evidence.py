"""Paying a round from evidence accumulated across rounds, not from one noisy round.

One round's Shapley values are a noisy measurement of what a participant's data contribute:
another training seed, another shuffle, and the values move (docs/valuation.md measures by how
much). A task therefore keeps, per participant address, a *standing*: the (decayed) sum of its
values over every valued round,

    A_i ← d · A_i + v_i          (d = ``evidence_decay``; absent participants only decay),

and a round pays the participants it valued in proportion to their standing after the round.
With ``evidence_scale="share"`` a round adds ``v_i / Σ_j |v_j|`` instead of ``v_i``, so every
round weighs the same whatever its gain.
By linearity the sum of per-round Shapley values is the Shapley value of the sum of the rounds'
games (the cumulative "FedSV" of Wang et al. 2020), so with ``d = 1`` a round's pay follows
the participant's Shapley value in the task so far, in which rounds with a large gain (the
informative ones) weigh most; ``d < 1`` lets old rounds fade; ``d = 0`` pays on the round's
own values.

Within a round the rules of the task spec apply, in this order (all exact and deterministic):

1. Duplicate groups are one payee: the group's standing is the sum of its members' and the
   whole share goes to the member ranked first by ``priority`` (the earliest committer).
2. Every payee pays an entry cost (``identity_cost`` = c): ``c · Σ max(0, A) / m`` over the
   round's ``m`` payees, i.e. c times their mean positive standing, comes off each standing.
   Among equal payees this changes nothing (each loses the same and the budget is shared as
   before); it moves pay from payees below the mean to those above, and it makes one data set
   split over k identities pay the cost k times, while the mean it is measured on grows by
   less, so splitting loses (docs/valuation.md measures the trade-off).
3. Only this round's contributors are paid (``round_gate`` = g): a payee whose own value in
   this round is not positive, or is below g times the payees' mean positive value of the
   round, is paid nothing this round (its standing is kept). Pay follows the evidence of every
   round, but a history does not pay for a round in which nothing useful was sent.
4. Clipping is per payee: a negative standing is paid nothing (``clip_negative``); without
   clipping, negative standings count against the round, which then pays out only
   ``budget · max(0, Σ A) / Σ max(0, A)`` (the net gain's share, of the standings before the
   entry cost, which only redistributes) and leaves the rest unspent.
5. ``allocation="proportional"``: payouts ∝ clipped standings (largest remainder, ``cap``
   water-filled, :func:`valuation.allocation.allocation`); ``allocation="fli"``: the FLI
   queues (:class:`valuation.fli.FLIQueues`), whose regret and waiting time are carried in
   the same state, by address.

The state is part of every valuation report (before and after the round), so an auditor
checks that a round's pay follows from the previous report's state and this round's values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from valuation.allocation import allocation
from valuation.config import RoundValuation
from valuation.errors import AllocationError, ReportError
from valuation.fairness import fairness_metrics
from valuation.fli import FLIQueues


@dataclass(frozen=True)
class Evidence:
    """What a task's valuation carries from one valued round to the next, by address.

    ``standing`` is each participant's accumulated (decayed) value; ``regret`` and
    ``waiting`` are the FLI queues (empty under proportional allocation); ``rounds`` counts
    the valued rounds folded in.
    """

    standing: Mapping[str, float] = field(default_factory=dict)
    rounds: int = 0
    regret: Mapping[str, float] = field(default_factory=dict)
    waiting: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "standing", {str(k): float(v) for k, v in self.standing.items()})
        object.__setattr__(self, "regret", {str(k): float(v) for k, v in self.regret.items()})
        object.__setattr__(self, "waiting", {str(k): int(v) for k, v in self.waiting.items()})
        values = [*self.standing.values(), *self.regret.values()]
        if not all(math.isfinite(v) for v in values):
            raise ReportError("evidence must be finite")
        if self.rounds < 0 or any(w < 0 for w in self.waiting.values()):
            raise ReportError("evidence counts must be non-negative")

    def to_dict(self) -> dict[str, Any]:
        return {
            "standing": dict(sorted(self.standing.items())),
            "rounds": self.rounds,
            "regret": dict(sorted(self.regret.items())),
            "waiting": dict(sorted(self.waiting.items())),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Evidence:
        """Inverse of :meth:`to_dict`; ``None`` (no earlier valued round) is the empty state."""
        if not data:
            return cls()
        try:
            return cls(
                standing=dict(data["standing"]),
                rounds=int(data["rounds"]),
                regret=dict(data.get("regret", {})),
                waiting=dict(data.get("waiting", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ReportError(f"unreadable evidence state: {exc}") from exc


@dataclass(frozen=True)
class Settlement:
    """One round's pay: payouts (allocation units, player order), the standings they follow,
    the state after the round, what stayed unspent and the fairness figures."""

    payouts: tuple[int, ...]
    basis: tuple[float, ...]
    state: Evidence
    unspent: int
    fairness: dict[str, float]


def settle(
    values: Sequence[float] | np.ndarray,
    participants: Sequence[str],
    config: RoundValuation,
    previous: Evidence,
    *,
    groups: Sequence[Sequence[int]] = (),
    priority: Sequence[int] | None = None,
) -> Settlement:
    """Fold a round's ``values`` into ``previous`` and pay ``config.budget`` (module docstring).

    ``participants`` (addresses, in player order) key the state; ``priority`` ranks players for
    the duplicate-group rule (lower first; default player order).
    """
    v = np.asarray(values, dtype=np.float64)
    n = len(participants)
    if v.shape != (n,) or not np.all(np.isfinite(v)):
        raise AllocationError(f"need {n} finite values, got shape {v.shape}")
    if len(set(participants)) != n:
        raise AllocationError("participants must be unique")
    added = v
    if config.evidence_scale == "share" and float(np.sum(np.abs(v))) > 0:
        added = v / float(np.sum(np.abs(v)))
    standing = fold(previous.standing, participants, added, config.evidence_decay)
    basis = np.array([standing.get(p, 0.0) for p in participants], dtype=np.float64)
    payee_basis = _merge_groups(basis, groups, priority)
    budget = _net_budget(payee_basis, config) if not config.clip_negative else config.budget
    order_keys = [p.lower() for p in participants]
    payees = n - sum(len(g) - 1 for g in groups)
    clipped = np.maximum(_less_entry_cost(payee_basis, payees, config.identity_cost), 0.0)
    if config.round_gate > 0.0:
        contributing = _contributing(_merge_groups(v, groups, priority), payees, config.round_gate)
        clipped = np.where(contributing, clipped, 0.0)
    regret, waiting = dict(previous.regret), dict(previous.waiting)
    if config.allocation == "fli":
        queues = FLIQueues(n)
        queues.regret = np.array([regret.get(p, 0.0) for p in participants], dtype=np.float64)
        queues.waiting = np.array([waiting.get(p, 0) for p in participants], dtype=np.int64)
        payouts = queues.step(clipped, budget, order_keys=order_keys, cap=config.cap)
        for i, p in enumerate(participants):
            regret[p], waiting[p] = float(queues.regret[i]), int(queues.waiting[i])
        regret = {p: r for p, r in regret.items() if r > 0.0}
        waiting = {p: w for p, w in waiting.items() if w > 0}
    else:
        payouts = allocation(clipped, budget, order_keys=order_keys, cap=config.cap).payouts
    state = Evidence(standing=standing, rounds=previous.rounds + 1, regret=regret, waiting=waiting)
    paid = tuple(int(p) for p in payouts)
    return Settlement(
        payouts=paid,
        basis=tuple(float(b) for b in basis),
        state=state,
        unspent=config.budget - sum(paid),
        fairness=fairness_metrics(basis, np.asarray(paid, dtype=np.float64)),
    )


def fold(
    standing: Mapping[str, float], participants: Sequence[str], values: np.ndarray, decay: float
) -> dict[str, float]:
    """``A ← decay · A + v`` for every address (absent ones only decay; zeros are dropped)."""
    out = {p: decay * a for p, a in standing.items()}
    for p, value in zip(participants, values.tolist(), strict=True):
        out[p] = out.get(p, 0.0) + value
    return {p: a for p, a in sorted(out.items()) if a != 0.0}


def _merge_groups(
    basis: np.ndarray, groups: Sequence[Sequence[int]], priority: Sequence[int] | None
) -> np.ndarray:
    """Per-player pay basis with each group's sum on its first member by priority."""
    out = basis.copy()
    rank = list(range(basis.shape[0])) if priority is None else list(priority)
    for group in groups:
        members = [int(i) for i in group]
        first = min(members, key=lambda i: (rank[i], i))
        total = float(sum(basis[i] for i in members))
        out[members] = 0.0
        out[first] = total
    return out


def _less_entry_cost(payee_basis: np.ndarray, payees: int, cost: float) -> np.ndarray:
    """Each payee's standing less ``cost`` times the payees' mean positive standing.

    Players that are not payees (later members of a duplicate group) hold 0 and stay at most 0.
    ``math.fsum`` keeps the mean correctly rounded, so every machine takes off the same float.
    """
    if cost == 0.0 or payees == 0:
        return payee_basis
    fee = cost * math.fsum(max(0.0, float(b)) for b in payee_basis) / payees
    return np.where(payee_basis != 0.0, payee_basis - fee, payee_basis)


def _contributing(round_values: np.ndarray, payees: int, gate: float) -> np.ndarray:
    """Which payees contributed this round: a positive value of at least ``gate`` times the
    payees' mean positive value (correctly rounded with ``math.fsum``, as the entry cost)."""
    mean = math.fsum(max(0.0, float(x)) for x in round_values) / max(payees, 1)
    return (round_values > 0.0) & (round_values >= gate * mean)


def _net_budget(payee_basis: np.ndarray, config: RoundValuation) -> int:
    """``floor(budget · max(0, Σ A) / Σ max(0, A))`` in exact arithmetic (clip_negative off)."""
    gross = sum(Fraction(float(b)) for b in payee_basis if b > 0)
    if gross == 0:
        return 0
    net = max(Fraction(0), sum((Fraction(float(b)) for b in payee_basis), Fraction(0)))
    return math.floor(config.budget * min(net, gross) / gross)
