"""GTG-Shapley (Liu et al. 2022): guided, truncated permutation sampling for one FL round."""

from __future__ import annotations

import itertools
from typing import Any, Literal

import numpy as np

from valuation.errors import MethodError
from valuation.methods.base import ValuationMethod, evaluate, run_until
from valuation.methods.permutations import permutation_marginals
from valuation.methods.strata import SizeStrata
from valuation.running import RunningMoments
from valuation.samplers import GuidedPermutationSampler, LatinPermutationSampler
from valuation.stopping import StoppingRule, evaluation_budget, rule_from_options
from valuation.utility import CachedUtility, Coalition

Design = Literal["latin", "guided"]
DESIGNS: tuple[str, ...] = ("latin", "guided")
DEFAULT_EXACT_DEPTH = 2  # C(n, 2) coalitions: at most half a Latin block's evaluations


class GTGShapley(ValuationMethod):
    """Guided Truncation Gradient Shapley for one round of federated learning.

    * Between-round truncation: if ``|U(N) - U(∅)| <= round_tolerance`` (the round barely
      changed the model) every value is zero and nothing else is evaluated.
    * Within-round truncation: along a permutation, once ``|U(N) - U(prefix)| < tolerance``
      the remaining players get zero marginal contribution. Both thresholds are absolute, in
      the utility's units (e.g. accuracy), as in the paper.
    * Guided sampling: each iteration draws a block of n permutations evaluated as one batch.
      ``design="latin"`` (default) makes the block a Latin square
      (:class:`~valuation.samplers.LatinPermutationSampler`): every player takes every position
      once, which includes GTG's "every player first in turn" and also stratifies every later
      position. ``design="guided"`` is the paper's sampler (player k first, the rest random).
      ``antithetic=True`` follows each Latin block by its reversed rows.
    * Estimate: with ``reuse_cache=True`` (default) each player's value is the mean over
      coalition sizes of its mean marginal contribution at that size, taken over *every* pair
      ``(S, S ∪ {i})`` present in the utility cache (:class:`~valuation.methods.strata.SizeStrata`);
      only evaluated pairs count (a stratum that truncation left empty counts as zero). Then
      every coalition of at most ``exact_depth`` players (default 2) is evaluated first, making
      the most variable strata exact, and ``ladder`` adds short Latin walks (depths n/2, n/4,
      ...) after each block so small coalitions are sampled more. Without ``reuse_cache``: the
      plain running average of the permutations' marginals, truncated ones as zeros (paper).
    * Budgets: when the rule holds a ``MaxEvaluations``, an iteration walks only the rows and
      short walks the remaining budget pays for, so the budget is not overshot (beyond one
      permutation, and the first iteration's small coalitions).
    * Convergence: the estimate is checked after every block by ``stop``. Without ``stop`` the
      rule is ``HistoryDeviation(history, rtol)`` (relative change over the last ``history``
      blocks at most ``rtol``, defaults 10 and 0.01) ``| MaxUpdates(max_permutations)``
      (default ``100·n``). ``max_evaluations`` / ``max_permutations`` given together with ``stop``
      are added to it as budgets (``stop | MaxEvaluations(...) | MaxUpdates(...)``); these plain
      options are what a valuation report records and replays.
    """

    name = "gtg"

    def __init__(
        self,
        *,
        seed: int = 0,
        round_tolerance: float = 1e-4,
        tolerance: float = 1e-4,
        stop: StoppingRule | None = None,
        prefix_chunk: int | None = None,
        design: Design = "latin",
        antithetic: bool = False,
        reuse_cache: bool = True,
        exact_depth: int | None = None,
        ladder: bool | None = None,
        max_evaluations: int | None = None,
        max_permutations: int | None = None,
        rtol: float | None = None,
        history: int | None = None,
    ) -> None:
        if not round_tolerance >= 0 or not tolerance >= 0:
            raise MethodError("GTG tolerances must be >= 0")
        if design not in DESIGNS:
            raise MethodError(f"GTG design must be one of {DESIGNS}, got {design!r}")
        if antithetic and design != "latin":
            raise MethodError("antithetic blocks need design='latin'")
        self.seed = seed
        self.round_tolerance = float(round_tolerance)
        self.tolerance = float(tolerance)
        self.stop = stop
        self.prefix_chunk = prefix_chunk
        self.design: Design = design
        self.antithetic = bool(antithetic)
        self.reuse_cache = bool(reuse_cache)
        if exact_depth is not None and (
            isinstance(exact_depth, bool) or not isinstance(exact_depth, int) or exact_depth < 0
        ):
            raise MethodError(f"exact_depth must be a non-negative integer, got {exact_depth!r}")
        if exact_depth and not self.reuse_cache:
            raise MethodError("exact_depth needs reuse_cache=True (the strata are read from it)")
        self.exact_depth = exact_depth
        if ladder and not self.reuse_cache:
            raise MethodError(
                "ladder needs reuse_cache=True (its prefixes count through the cache)"
            )
        self.ladder = self.reuse_cache if ladder is None else bool(ladder)
        self.max_evaluations = max_evaluations
        self.max_permutations = max_permutations
        self.rtol = rtol
        self.history = history
        self._rule(2)  # validate the options now, not at fit time

    def _rule(self, n: int) -> StoppingRule:
        return rule_from_options(
            self.stop,
            default_max_permutations=100 * n,
            max_evaluations=self.max_evaluations,
            max_permutations=self.max_permutations,
            rtol=self.rtol,
            history=self.history,
        )

    def _depth(self) -> int:
        if self.exact_depth is not None:
            return self.exact_depth
        return DEFAULT_EXACT_DEPTH if self.reuse_cache else 0

    def params(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "round_tolerance": self.round_tolerance,
            "tolerance": self.tolerance,
            "stop": None if self.stop is None else self.stop.describe(),
            "prefix_chunk": self.prefix_chunk,
            "design": self.design,
            "antithetic": self.antithetic,
            "reuse_cache": self.reuse_cache,
            "exact_depth": self.exact_depth,
            "ladder": self.ladder,
            "max_evaluations": self.max_evaluations,
            "max_permutations": self.max_permutations,
            "rtol": self.rtol,
            "history": self.history,
        }

    def _fit(self, utility: CachedUtility) -> tuple[np.ndarray, np.ndarray | None, int, bool]:
        n = utility.n_players
        u_empty, u_full = evaluate(utility, [frozenset(), frozenset(range(n))]).tolist()
        if abs(u_full - u_empty) <= self.round_tolerance:
            return np.zeros(n), np.zeros(n), 0, True
        chunk = self.prefix_chunk
        if chunk is None:
            chunk = n if self.tolerance == 0 else max(1, -(-n // 4))
        sampler: LatinPermutationSampler | GuidedPermutationSampler
        if self.design == "latin":
            sampler = LatinPermutationSampler(self.seed, antithetic=self.antithetic)
        else:
            sampler = GuidedPermutationSampler(self.seed)
        moments = RunningMoments(n)
        strata = SizeStrata(n) if self.reuse_cache else None
        estimate: list[tuple[np.ndarray, np.ndarray]] = []
        depth = self._depth() if strata is not None else 0
        ladder = _ladder_depths(n, depth) if self.ladder and strata is not None else []
        rule = self._rule(n)
        budget = evaluation_budget(rule)
        start = utility.evaluations

        def remaining() -> int | None:
            return None if budget is None else budget - (utility.evaluations - start)

        small = _small_coalitions(n, depth)  # evaluated in the first step, inside the budget

        def step() -> int:
            if small:
                evaluate(utility, small)
                small.clear()
            perms = sampler.sample(n)
            left = remaining()
            if left is not None:  # walk only the rows the budget pays for (at least one)
                rows = max(1, left // max(1, n - 1 - depth))
                perms = perms[:rows]
            marginals = permutation_marginals(
                utility, perms, u_empty, u_full, threshold=self.tolerance, chunk=chunk
            )
            moments.update(marginals)
            current = (moments.mean, moments.stderr)
            if strata is not None:
                for d in ladder:
                    left = remaining()
                    if left is not None and left < n * (d - depth):
                        break
                    permutation_marginals(
                        utility,
                        sampler.sample(n),
                        u_empty,
                        u_full,
                        threshold=self.tolerance,
                        chunk=chunk,
                        depth=d,
                    )
                strata.absorb(utility.cache)
                current = strata.estimate()
            estimate[:] = [current]
            return len(perms)

        samples, converged = run_until(rule, utility, step, lambda: estimate[0])
        values, stderr = estimate[0]
        return values.copy(), stderr, samples, converged


def _small_coalitions(n: int, depth: int) -> list[Coalition]:
    """Every coalition of 1 to ``depth`` players (``depth < n``), smallest first."""
    return [
        frozenset(c)
        for size in range(1, min(depth, n - 1) + 1)
        for c in itertools.combinations(range(n), size)
    ]


def _ladder_depths(n: int, exact_depth: int) -> list[int]:
    """Depths ``n//2, n//4, ...`` of the short blocks walked after each full block, each above
    ``exact_depth`` (the strata below it are exact already). Position ``k`` is then sampled
    about ``1 + log2(n / k)`` times per step: the small coalitions, whose marginal contributions
    vary most in a federated round, get the most samples (a rough Neyman allocation)."""
    depths = []
    d = n // 2
    while d > max(exact_depth, 1):
        depths.append(d)
        d //= 2
    return depths
