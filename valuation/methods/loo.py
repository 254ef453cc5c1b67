"""Leave-one-out values: what the grand coalition loses without each player."""

from __future__ import annotations

from typing import Any

import numpy as np

from valuation.methods.base import ValuationMethod, evaluate
from valuation.utility import CachedUtility


class LeaveOneOut(ValuationMethod):
    """``v_i = U(N) - U(N \\ {i})``: n+1 coalitions, evaluated in one batch.

    Cheap and exact for what it measures, but not a Shapley value: it is blind to redundancy
    (two players holding the same data both get about zero).
    """

    name = "loo"

    def params(self) -> dict[str, Any]:
        return {}

    def _fit(self, utility: CachedUtility) -> tuple[np.ndarray, np.ndarray | None, int, bool]:
        n = utility.n_players
        grand = frozenset(range(n))
        u = evaluate(utility, [grand, *(grand - {i} for i in range(n))])
        return u[0] - u[1:], None, n + 1, True
