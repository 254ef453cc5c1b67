"""Marginal contributions along permutations, evaluated in batches, with truncation.

Shared by TMC-Shapley and GTG-Shapley. For a batch of permutations the walk proceeds in stages:
each stage asks for the next ``chunk`` prefixes of every permutation still running, all in one
``evaluate_many`` call, then scans them in order. A permutation is *truncated* at prefix j when
``|U(N) - U(prefix_{j-1})| < threshold``: the rest of the players add (almost) nothing, so their
marginal contributions are set to zero and their prefixes are never evaluated (beyond the ones
already requested in the current stage, which the cache keeps). The values do not depend on
``chunk``; only the number of evaluations does.
"""

from __future__ import annotations

import numpy as np

from valuation.methods.base import evaluate
from valuation.utility import Coalition, Utility


def permutation_marginals(
    utility: Utility,
    perms: np.ndarray,
    u_empty: float,
    u_full: float,
    *,
    threshold: float = 0.0,
    chunk: int | None = None,
    depth: int | None = None,
) -> np.ndarray:
    """``(B, n)`` array: entry ``[b, i]`` is player i's marginal contribution in ``perms[b]``.

    With ``depth`` only the first ``depth`` positions are walked (later marginals stay zero):
    GTG uses such short walks to sample small coalitions more often.
    """
    batch, n = perms.shape
    end = n if depth is None else max(0, min(int(depth), n))
    step = n if chunk is None else max(1, int(chunk))
    marginals = np.zeros((batch, n), dtype=np.float64)
    previous = np.full(batch, float(u_empty))
    done = np.zeros(batch, dtype=np.int64)  # prefix length already accounted for
    prefixes: list[Coalition] = [frozenset()] * batch
    running = [b for b in range(batch) if end > 0]
    while running:
        requests: list[Coalition] = []
        plan: list[tuple[int, int, int]] = []  # (perm, first request index, last prefix length)
        still: list[int] = []
        for b in running:
            if abs(u_full - previous[b]) < threshold:
                continue  # truncated: the remaining marginals stay zero
            last = min(int(done[b]) + step, end)
            first = len(requests)
            prefix = prefixes[b]
            for j in range(int(done[b]) + 1, min(last, n - 1) + 1):
                prefix = prefix | {int(perms[b, j - 1])}
                requests.append(prefix)
            prefixes[b] = prefix
            plan.append((b, first, last))
        values = evaluate(utility, requests)
        for b, first, last in plan:
            prev = previous[b]
            truncated = False
            for offset, j in enumerate(range(int(done[b]) + 1, last + 1)):
                if abs(u_full - prev) < threshold:
                    truncated = True
                    break
                current = u_full if j == n else float(values[first + offset])
                marginals[b, perms[b, j - 1]] = current - prev
                prev = current
            previous[b] = prev
            done[b] = last
            if not truncated and last < end:
                still.append(b)
        running = still
    return marginals
