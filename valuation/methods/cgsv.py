"""Gradient-cosine contributions (CGSV, Xu et al. 2021) from update vectors, not utilities."""

from __future__ import annotations

import numpy as np

from valuation.errors import GameError
from valuation.result import ValuationResult


def cgsv_values(
    updates: np.ndarray, weights: np.ndarray | None = None, *, normalize: bool = False
) -> np.ndarray:
    """``v_i = cos(Δ_i, Δ_agg)`` for the flattened updates ``Δ`` (one row per participant).

    ``Δ_agg`` is the weighted mean of the rows (``weights``, e.g. sample counts, default
    uniform: FedAvg's aggregate); with ``normalize=True`` the rows are scaled to unit norm
    before aggregating, as CGSV does so that a large update cannot dominate the direction.
    A zero update, or a zero aggregate, has no direction: its cosine is defined as 0.
    Values lie in [-1, 1]; no validation data and no model evaluation are needed.
    """
    matrix = np.asarray(updates, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] < 1:
        raise GameError(f"updates must be a non-empty (n, d) matrix, got shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise GameError("updates must be finite")
    n = matrix.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or np.any(w < 0) or not np.all(np.isfinite(w)) or w.sum() <= 0:
        raise GameError("weights must be n finite non-negative numbers with a positive sum")
    norms = np.linalg.norm(matrix, axis=1)
    units = np.divide(matrix, norms[:, None], out=np.zeros_like(matrix), where=norms[:, None] > 0)
    rows = units if normalize else matrix
    aggregate = (w / w.sum()) @ rows
    agg_norm = float(np.linalg.norm(aggregate))
    if agg_norm == 0.0:
        return np.zeros(n)
    return np.clip(units @ (aggregate / agg_norm), -1.0, 1.0)


def cgsv(
    updates: np.ndarray, weights: np.ndarray | None = None, *, normalize: bool = False
) -> ValuationResult:
    """:func:`cgsv_values` wrapped in a :class:`ValuationResult` (no utility evaluations)."""
    values = cgsv_values(updates, weights, normalize=normalize)
    return ValuationResult(
        values=values,
        stderr=None,
        method="cgsv",
        evaluations=0,
        cache_hits=0,
        samples=int(values.shape[0]),
        converged=True,
        params={"normalize": normalize, "weighted": weights is not None},
    )
