"""Owen sampling: Shapley values stratified over inclusion probability, for large rounds.

Owen (1972) showed that a player's Shapley value is an integral over the probability ``t`` with
which every other player joins a coalition:

    φ_i = ∫₀¹ e_i(t) dt,    e_i(t) = E_{S ~ Bernoulli(t) over N∖{i}} [U(S ∪ {i}) − U(S)]

(Okhrati & Lipani 2021 sample it for explanations). This is stratified sampling with a
continuous stratum, ``t``, in place of the coalition size: ``e_i`` at a fixed ``t`` averages
marginal contributions to coalitions of one expected size. In a federated round valued with
fixed weights (``valuation.coalition``) a coalition's model is the round's aggregate with a
random subset of its terms kept, so for many players ``e_i(t)`` is a smooth function of ``t``
and varies little between coalitions drawn at the same ``t``. Hence:

* the integral is taken by Gauss–Legendre quadrature at ``nodes`` points (exact for
  polynomials of degree ``2·nodes − 1``);
* at each node, ``samples`` coalitions are drawn, and each yields one marginal contribution for
  *every* player from ``n + 1`` evaluations: ``U(S)`` and ``U(S`` with player ``i`` flipped``)``;
* coalitions share their uniforms across nodes (``S_t = {j : u_j < t}``, nested in ``t``:
  common random numbers make ``e_i`` smooth in ``t`` across nodes), and with ``antithetic``
  every uniform vector ``u`` is paired with ``1 − u``.

The cost is fixed in advance: ``nodes × samples × (n + 1)`` evaluations (doubled with
``antithetic``); ``max_evaluations`` instead sets ``samples`` to what that budget pays for
(at least one draw per node, so a budget below one draw's cost is exceeded).
``stderr`` is the spread of the per-draw quadrature estimates. Deterministic for a seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from valuation.errors import MethodError
from valuation.methods.base import ValuationMethod, evaluate
from valuation.samplers import make_rng
from valuation.utility import CachedUtility, Coalition


class OwenShapley(ValuationMethod):
    """Owen sampling with Gauss–Legendre quadrature over inclusion probability (module doc)."""

    name = "owen"

    def __init__(
        self,
        *,
        seed: int = 0,
        nodes: int = 8,
        samples: int = 2,
        antithetic: bool = True,
        max_evaluations: int | None = None,
    ) -> None:
        for label, number in (("nodes", nodes), ("samples", samples)):
            if isinstance(number, bool) or not isinstance(number, int) or number < 1:
                raise MethodError(f"{label} must be a positive integer, got {number!r}")
        if max_evaluations is not None and (
            isinstance(max_evaluations, bool)
            or not isinstance(max_evaluations, int)
            or max_evaluations < 1
        ):
            raise MethodError(
                f"max_evaluations must be a positive integer, got {max_evaluations!r}"
            )
        self.seed = seed
        self.nodes = nodes
        self.samples = samples
        self.antithetic = bool(antithetic)
        self.max_evaluations = max_evaluations

    def params(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "nodes": self.nodes,
            "samples": self.samples,
            "antithetic": self.antithetic,
            "max_evaluations": self.max_evaluations,
        }

    def draws_for(self, n: int) -> int:
        """Coalition draws per node (before the antithetic pairing) for ``n`` players."""
        if self.max_evaluations is None:
            return self.samples
        per_draw = self.nodes * (n + 1) * (2 if self.antithetic else 1)
        return max(1, self.max_evaluations // per_draw)

    def _fit(self, utility: CachedUtility) -> tuple[np.ndarray, np.ndarray | None, int, bool]:
        n = utility.n_players
        x, w = np.polynomial.legendre.leggauss(self.nodes)
        t, weights = (x + 1.0) / 2.0, w / 2.0
        u = make_rng(self.seed).random((self.draws_for(n), n))
        if self.antithetic:
            u = np.concatenate([u, 1.0 - u])
        per_draw = np.zeros((u.shape[0], n), dtype=np.float64)
        for node, weight in zip(t, weights, strict=True):
            members = u < node  # (draws, n)
            coalitions: list[Coalition] = []
            for row in members:
                base = frozenset(np.flatnonzero(row).tolist())
                coalitions.append(base)
                coalitions.extend(base ^ {i} for i in range(n))
            values = evaluate(utility, coalitions).reshape(u.shape[0], n + 1)
            base_value, flipped = values[:, :1], values[:, 1:]
            # i in S: U(S) - U(S - i); i not in S: U(S + i) - U(S)
            marginal = np.where(members, base_value - flipped, flipped - base_value)
            per_draw += weight * marginal
        values = per_draw.mean(axis=0)
        stderr = per_draw.std(axis=0, ddof=1) / np.sqrt(u.shape[0]) if u.shape[0] > 1 else None
        return values, stderr, u.shape[0] * self.nodes, False
