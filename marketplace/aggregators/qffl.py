"""q-FFL's aggregation, q-FedAvg (Li, Sanjabi, Beirami & Smith, "Fair Resource Allocation in
Federated Learning", ICLR 2020): participants the global model serves badly weigh more."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from marketplace.aggregators.base import (
    Aggregator,
    check_num_samples,
    flatten,
    stack_updates,
)

#: Losses below this are treated as this (``F^(q-1)`` must stay finite for q < 1).
MIN_LOSS = 1e-12


class QFFL(Aggregator):
    """``θ ← θ + Σ c_i Δ_i / Σ h_i`` with ``c_i = p_i F_i^q`` and
    ``h_i = p_i (F_i^q + q L F_i^(q-1) ‖Δ_i‖²)``.

    This is the paper's q-FedAvg step (its Algorithm 2) written with our update sign
    (``Δ_i = trained − global``, the paper's ``Δw_i = L(w − w̄_i) = −L Δ_i``) and with every
    participant taking part, weighted by its sample share ``p_i = n_i / Σ n`` (the paper samples
    devices with probability ``p_i``). ``F_i`` is participant ``i``'s loss at the global model,
    ``q ≥ 0`` the fairness knob (``q = 0`` is exactly FedAvg) and ``L`` (``lipschitz``) the
    paper's Lipschitz constant of the gradient, i.e. the inverse of the local step size. The
    rule is linear in the updates, so :meth:`coalition_rule` hands ``(c, h)`` to the valuation
    and every coalition's model follows the same rule. Where ``F_i`` comes from is the caller's
    choice; the round computation uses a public stand-in (``valuation.local_loss``).
    """

    name = "qffl"
    needs_losses = True

    def __init__(self, q: float = 1.0, lipschitz: float = 10.0, max_samples: int | None = None):
        if not q >= 0:
            raise ValueError(f"q-FFL needs q >= 0, got {q}")
        if not lipschitz > 0:
            raise ValueError(f"q-FFL needs a positive Lipschitz constant, got {lipschitz}")
        if max_samples is not None and max_samples < 1:
            raise ValueError(f"max_samples must be positive, got {max_samples}")
        self.q = float(q)
        self.lipschitz = float(lipschitz)
        self.max_samples = None if max_samples is None else int(max_samples)

    def coalition_rule(
        self,
        updates: Sequence[Mapping[str, np.ndarray]],
        num_samples: Sequence[int],
        losses: Sequence[float] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        if losses is None:
            raise ValueError("q-FFL needs every participant's loss at the global model")
        counts = check_num_samples(num_samples, len(updates)).astype(np.float64)
        if self.max_samples is not None:
            counts = np.minimum(counts, self.max_samples)
        if not counts.sum() > 0:
            raise ValueError("q-FFL needs a positive total sample count")
        loss = np.asarray(losses, dtype=np.float64)
        if loss.shape != counts.shape or not np.all(np.isfinite(loss)) or np.any(loss < 0):
            raise ValueError(f"q-FFL needs {counts.size} finite non-negative losses")
        loss = np.maximum(loss, MIN_LOSS)
        flat = flatten(stack_updates(updates))
        sq_norms = np.einsum("ij,ij->i", flat, flat)
        p = counts / counts.sum()
        c = p * loss**self.q
        h = p * (loss**self.q + self.q * self.lipschitz * loss ** (self.q - 1.0) * sq_norms)
        return c, h

    def _combine(
        self, stacked: dict[str, np.ndarray], num_samples: np.ndarray
    ) -> dict[str, np.ndarray]:  # pragma: no cover - aggregate() always takes the linear path
        raise ValueError("q-FFL needs every participant's loss at the global model")

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"q": self.q, "lipschitz": self.lipschitz}
        if self.max_samples is not None:
            out["max_samples"] = self.max_samples
        return out
