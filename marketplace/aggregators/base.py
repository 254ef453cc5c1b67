"""The aggregator interface: combine the round's accepted updates into one update.

An aggregator sees updates (parameter name → float32 array) in a fixed order — the caller sorts
participants by address — together with each participant's (capped) sample count, and returns
the update to add to the global model. Arithmetic is float64, in participant order, cast to
float32 at the end, so that anyone re-running it on the same inputs gets the same bytes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

Update = dict[str, np.ndarray]


class Aggregator(ABC):
    """Turns ``n`` updates and their sample counts into one aggregated update.

    A *linear* rule — the aggregate is ``Σ c_i Δ_i / Σ h_i`` — also says so through
    :meth:`coalition_rule`, so that the valuation builds every coalition's model by the same
    rule (FedAvg, q-FFL). A rule that needs each participant's loss (q-FFL) sets
    ``needs_losses`` and gets them as ``losses``.
    """

    name: ClassVar[str]
    """Registry name, also written into valuation reports."""

    needs_losses: ClassVar[bool] = False
    """True when :meth:`aggregate` needs each participant's loss at the global model."""

    def aggregate(
        self,
        updates: Sequence[Mapping[str, np.ndarray]],
        num_samples: Sequence[int],
        losses: Sequence[float] | None = None,
    ) -> Update:
        """The aggregated update (float32, same names and shapes as the inputs).

        Raises ValueError for an empty round, mismatched names or shapes, or a ``num_samples``
        of the wrong length or with negative entries (or missing ``losses`` when needed).
        """
        stacked = stack_updates(updates)
        counts = check_num_samples(num_samples, len(updates))
        rule = self.coalition_rule(updates, num_samples, losses)
        if rule is not None:
            combined = linear_combine(stacked, *rule)
        else:
            combined = self._combine(stacked, counts)
        return {
            name: np.asarray(v, dtype=np.float64).astype(np.float32) for name, v in combined.items()
        }

    @abstractmethod
    def _combine(
        self, stacked: dict[str, np.ndarray], num_samples: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Combine ``stacked[name]`` (float64, shape ``(n, *shape)``) into float64 arrays."""

    def coalition_rule(
        self,
        updates: Sequence[Mapping[str, np.ndarray]],
        num_samples: Sequence[int],
        losses: Sequence[float] | None = None,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """``(c, h)`` when the aggregate is ``Σ c_i Δ_i / Σ h_i``; ``None`` for other rules."""
        return None

    def params(self) -> dict[str, Any]:
        """The aggregator's parameters, for reports and :func:`get_aggregator` round trips."""
        return {}

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({shown})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.params() == self.params()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.params().items()))))


def stack_updates(updates: Sequence[Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Name → float64 array of shape ``(n, *shape)``, in sorted name order and input order.

    Every update must have the same names and shapes as the first one.
    """
    if len(updates) == 0:
        raise ValueError("no updates to aggregate")
    names = sorted(updates[0])
    if not names:
        raise ValueError("updates hold no tensors")
    shapes = {name: np.shape(updates[0][name]) for name in names}
    for i, update in enumerate(updates):
        if sorted(update) != names:
            raise ValueError(f"update {i} has tensors {sorted(update)}, expected {names}")
        for name in names:
            if np.shape(update[name]) != shapes[name]:
                raise ValueError(
                    f"update {i}: {name!r} has shape {np.shape(update[name])}, "
                    f"expected {shapes[name]}"
                )
    return {
        name: np.stack([np.asarray(u[name], dtype=np.float64) for u in updates]) for name in names
    }


def check_num_samples(num_samples: Sequence[int], n: int) -> np.ndarray:
    """``num_samples`` as an int64 array of length ``n`` with non-negative entries."""
    counts = np.asarray(num_samples)
    if counts.shape != (n,):
        raise ValueError(f"{n} updates but {counts.shape} sample counts")
    if counts.size and not np.issubdtype(counts.dtype, np.integer):
        raise ValueError("sample counts must be integers")
    counts = counts.astype(np.int64)
    if (counts < 0).any():
        raise ValueError("sample counts must be non-negative")
    return counts


def linear_combine(
    stacked: Mapping[str, np.ndarray], coefficients: np.ndarray, normalizers: np.ndarray
) -> dict[str, np.ndarray]:
    """``Σ c_i Δ_i / Σ h_i`` per tensor in float64, accumulated in participant order."""
    total = float(np.sum(np.asarray(normalizers, dtype=np.float64)))
    if not total > 0:
        raise ValueError("the aggregation weights sum to zero")
    out: dict[str, np.ndarray] = {}
    for name, values in stacked.items():
        acc = np.zeros(values.shape[1:], dtype=np.float64)
        for c, delta in zip(np.asarray(coefficients, dtype=np.float64), values, strict=True):
            acc += np.float64(c) * delta
        out[name] = acc / np.float64(total)
    return out


def flatten(stacked: Mapping[str, np.ndarray]) -> np.ndarray:
    """``(n, total_size)`` float64 matrix: each row one update, tensors in sorted name order."""
    names = sorted(stacked)
    n = stacked[names[0]].shape[0]
    return np.concatenate([stacked[name].reshape(n, -1) for name in names], axis=1)
