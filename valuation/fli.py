"""A simplified Federated Learning Incentivizer (FLI, Yu et al., AIES 2020) across rounds.

The paper keeps, per participant, a *regret* queue (what it is still owed for its
contributions) and a *temporal* queue (how long it has been waiting to be paid), and solves a
Lyapunov drift-plus-penalty optimisation each round to split the round's budget. This module
keeps both queues but replaces the optimisation with a closed-form priority rule:

1. The round's contributions are worth ``entitlement`` tokens (default: the round's budget),
   split in proportion to the clipped values: ``e_i``.
2. Each participant is owed ``o_i = Y_i + e_i`` (its regret queue plus this round).
3. Priority ``π_i = o_i · (1 + waiting_weight · Q_i)``: the longer someone has waited, the
   larger the part of what it is owed that it receives now.
4. The budget is allocated in proportion to ``π`` by :func:`valuation.allocation.allocate`
   (exact largest-remainder rounding) with a per-participant cap of ``ceil(o_i)``, so nobody
   is paid more than it is owed and the excess goes to the others.
5. ``Y_i ← max(0, o_i - p_i)``; ``Q_i ← Q_i + 1`` while ``Y_i ≥ 1`` token, else 0.

When every round's entitlement equals its budget, this pays (up to rounding) plain
proportional shares; the queues matter when budgets arrive unevenly or are smaller than what
contributions are worth, and spread the shortfall fairly over later rounds. The queues start at
zero for every participant and are part of the round's fairness state in the report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from valuation.allocation import allocate
from valuation.errors import AllocationError


class FLIQueues:
    """Regret and waiting-time queues of the simplified FLI scheme (see module docstring)."""

    def __init__(self, n_players: int, *, waiting_weight: float = 0.1) -> None:
        if n_players < 1:
            raise AllocationError(f"need at least one participant, got {n_players}")
        if not waiting_weight >= 0:
            raise AllocationError(f"waiting_weight must be >= 0, got {waiting_weight}")
        self.waiting_weight = float(waiting_weight)
        self.regret = np.zeros(n_players, dtype=np.float64)
        self.waiting = np.zeros(n_players, dtype=np.int64)

    def step(
        self,
        values: Any,
        budget: int,
        *,
        entitlement: float | None = None,
        order_keys: Sequence[Any] | None = None,
        duplicate_groups: Sequence[Sequence[int]] | None = None,
        cap: int | None = None,
    ) -> np.ndarray:
        """Pay one round out of ``budget`` and update the queues; returns int64 payouts.

        ``cap`` (optional) bounds every payout on top of what each participant is owed.
        """
        v = np.maximum(np.asarray(values, dtype=np.float64), 0.0)
        if v.shape != self.regret.shape or not np.all(np.isfinite(v)):
            raise AllocationError(f"values must be {self.regret.shape[0]} finite numbers")
        worth = float(budget if entitlement is None else entitlement)
        if not worth >= 0:
            raise AllocationError(f"entitlement must be >= 0, got {entitlement}")
        total = float(v.sum())
        earned = v * (worth / total) if total > 0 else np.zeros_like(v)
        owed = self.regret + earned
        priority = owed * (1.0 + self.waiting_weight * self.waiting)
        caps = np.array([math.ceil(o) for o in owed], dtype=np.int64)
        if cap is not None:
            caps = np.minimum(caps, int(cap))
        payouts = allocate(
            priority,
            budget,
            order_keys=order_keys,
            duplicate_groups=duplicate_groups,
            cap=caps,
        )
        self.regret = np.maximum(owed - payouts, 0.0)
        self.waiting = np.where(self.regret >= 1.0, self.waiting + 1, 0)
        return payouts

    def to_dict(self) -> dict[str, Any]:
        return {
            "waiting_weight": self.waiting_weight,
            "regret": self.regret.tolist(),
            "waiting": self.waiting.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FLIQueues:
        queues = cls(len(data["regret"]), waiting_weight=float(data["waiting_weight"]))
        queues.regret = np.asarray(data["regret"], dtype=np.float64)
        queues.waiting = np.asarray(data["waiting"], dtype=np.int64)
        return queues
