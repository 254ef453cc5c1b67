"""Simulated participant behaviours (honest, noisy, free-riding, malicious, flaky) for experiments.

Every behaviour answers two questions behind one interface, :class:`Behaviour`:

* :meth:`Behaviour.prepare_data` — what data the node actually trains on (label noise corrupts
  it once, when the node starts);
* :meth:`Behaviour.make_update` — what the node submits in a round, given an honest
  ``train_fn(global_params, ds, seed) -> update``. ``None`` means "no submission this round"
  (a dropout): the node neither commits nor reveals.

Behaviours are chosen by a short spec string, ``name`` or ``name:parameter``, parsed by
:func:`parse_behaviour` (``"honest"``, ``"label_noise:0.3"``, ``"free_rider"``,
``"noise_free_rider:0.1"``, ``"scaled:5"``, ``"sign_flip"``, ``"dropout:0.2"``).
Every random choice is seeded; pass a seed that differs per round (e.g. derived from the round
number) so that a dropout or noise pattern is not the same every round.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np

from marketplace.errors import ConfigError
from marketplace.protocol.dataset import Dataset
from participant.data import flip_labels, rng_for

Params = dict[str, np.ndarray]
TrainFn = Callable[[Mapping[str, np.ndarray], Dataset, int], Params]
"""``train_fn(global_params, ds, seed) -> update``: one honest round of local training."""


def _zeros_like(params: Mapping[str, np.ndarray]) -> Params:
    return {name: np.zeros(np.shape(v), dtype=np.float32) for name, v in sorted(params.items())}


def params_norm(params: Mapping[str, np.ndarray]) -> float:
    """L2 norm of all tensors together, accumulated in float64 in sorted name order."""
    total = 0.0
    for name in sorted(params):
        v = np.asarray(params[name], dtype=np.float64)
        total += float(np.dot(v.ravel(), v.ravel()))
    return math.sqrt(total)


class Behaviour:
    """How a simulated node treats its data and what it submits; the default is honest."""

    name: str = "honest"

    def prepare_data(self, ds: Dataset, seed: int) -> Dataset:
        """The dataset the node trains on (unchanged unless the behaviour corrupts it)."""
        return ds

    def make_update(
        self, train_fn: TrainFn, global_params: Mapping[str, np.ndarray], ds: Dataset, seed: int
    ) -> Params | None:
        """The update submitted this round, or ``None`` for no submission."""
        return train_fn(global_params, ds, seed)

    def spec(self) -> str:
        """The spec string that :func:`parse_behaviour` turns back into this behaviour."""
        return self.name

    def __repr__(self) -> str:
        return f"<Behaviour {self.spec()}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Behaviour) and self.spec() == other.spec()

    def __hash__(self) -> int:
        return hash(self.spec())


class Honest(Behaviour):
    """Trains on its own data and submits the true update."""

    name = "honest"


def _check_fraction(value: float, what: str) -> float:
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ConfigError(f"{what} must lie in [0, 1], got {value}")
    return float(value)


class LabelNoise(Behaviour):
    """Trains honestly on data where a ``fraction`` of the labels were flipped to other classes."""

    name = "label_noise"

    def __init__(self, fraction: float = 0.5) -> None:
        self.fraction = _check_fraction(fraction, "label_noise fraction")

    def prepare_data(self, ds: Dataset, seed: int) -> Dataset:
        return ds.with_labels(flip_labels(ds.y, self.fraction, ds.num_classes, seed))

    def spec(self) -> str:
        return f"{self.name}:{self.fraction:g}"


class FreeRider(Behaviour):
    """Does no work and submits Δ = 0, i.e. the global model unchanged."""

    name = "free_rider"

    def make_update(
        self, train_fn: TrainFn, global_params: Mapping[str, np.ndarray], ds: Dataset, seed: int
    ) -> Params | None:
        return _zeros_like(global_params)


class NoiseFreeRider(Behaviour):
    """Does no work and submits Gaussian noise disguised as an update.

    The noise's L2 norm is ``relative_norm × ‖global params‖``; honest one-epoch updates on the
    digits MLP are about 10% of the weights' norm, hence the default 0.1.
    """

    name = "noise_free_rider"

    def __init__(self, relative_norm: float = 0.1) -> None:
        if not (math.isfinite(relative_norm) and relative_norm > 0):
            raise ConfigError(f"noise_free_rider norm must be positive, got {relative_norm}")
        self.relative_norm = float(relative_norm)

    def make_update(
        self, train_fn: TrainFn, global_params: Mapping[str, np.ndarray], ds: Dataset, seed: int
    ) -> Params | None:
        rng = rng_for(seed)
        noise = {
            name: rng.standard_normal(np.shape(v)).astype(np.float64)
            for name, v in sorted(global_params.items())
        }
        target = self.relative_norm * params_norm(global_params)
        current = params_norm(noise)
        factor = target / current if current > 0 else 0.0
        return {name: (v * factor).astype(np.float32) for name, v in noise.items()}

    def spec(self) -> str:
        return f"{self.name}:{self.relative_norm:g}"


class Scaled(Behaviour):
    """Trains honestly and multiplies the update by ``factor`` (a boosting attacker)."""

    name = "scaled"

    def __init__(self, factor: float = 5.0) -> None:
        if not math.isfinite(factor):
            raise ConfigError(f"scaled factor must be finite, got {factor}")
        self.factor = float(factor)

    def make_update(
        self, train_fn: TrainFn, global_params: Mapping[str, np.ndarray], ds: Dataset, seed: int
    ) -> Params | None:
        update = train_fn(global_params, ds, seed)
        return {
            name: (v * np.float32(self.factor)).astype(np.float32) for name, v in update.items()
        }

    def spec(self) -> str:
        return f"{self.name}:{self.factor:g}"


class SignFlip(Behaviour):
    """Trains honestly and submits −update, pushing the model away from its data's optimum."""

    name = "sign_flip"

    def make_update(
        self, train_fn: TrainFn, global_params: Mapping[str, np.ndarray], ds: Dataset, seed: int
    ) -> Params | None:
        update = train_fn(global_params, ds, seed)
        return {name: (-v).astype(np.float32) for name, v in update.items()}


class Dropout(Behaviour):
    """Honest, but skips a round with probability ``p`` (returns ``None``: no submission)."""

    name = "dropout"

    def __init__(self, p: float = 0.5) -> None:
        self.p = _check_fraction(p, "dropout probability")

    def submits(self, seed: int) -> bool:
        """Whether the node takes part in the round seeded by ``seed``."""
        return bool(rng_for(seed).random() >= self.p)

    def make_update(
        self, train_fn: TrainFn, global_params: Mapping[str, np.ndarray], ds: Dataset, seed: int
    ) -> Params | None:
        if not self.submits(seed):
            return None
        return train_fn(global_params, ds, seed)

    def spec(self) -> str:
        return f"{self.name}:{self.p:g}"


BEHAVIOURS: dict[str, Callable[..., Behaviour]] = {
    "honest": Honest,
    "label_noise": LabelNoise,
    "free_rider": FreeRider,
    "noise_free_rider": NoiseFreeRider,
    "scaled": Scaled,
    "sign_flip": SignFlip,
    "dropout": Dropout,
}
"""Name → constructor; the ones that take a parameter take exactly one number."""

_WITH_PARAMETER = frozenset({"label_noise", "noise_free_rider", "scaled", "dropout"})


def parse_behaviour(text: str) -> Behaviour:
    """A behaviour from its spec string ``name`` or ``name:number`` (see the module docstring).

    Raises :class:`ConfigError` for an unknown name, a parameter that is not a number, a
    parameter given to a behaviour that takes none, or a value out of range.
    """
    name, sep, raw = text.strip().partition(":")
    name = name.strip().lower().replace("-", "_")
    if name not in BEHAVIOURS:
        raise ConfigError(
            f"unknown behaviour {name!r}", hint=f"choose one of {', '.join(BEHAVIOURS)}"
        )
    if not sep:
        return BEHAVIOURS[name]()
    if name not in _WITH_PARAMETER:
        raise ConfigError(f"behaviour {name!r} takes no parameter, got {raw!r}")
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigError(f"behaviour {name!r}: parameter {raw!r} is not a number") from exc
    return BEHAVIOURS[name](value)
