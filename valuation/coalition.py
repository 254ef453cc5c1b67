"""Model-based coalition utility: the score of the model a coalition's updates would build.

A coalition ``S`` of participants is worth the validation score of a model built from the
previous global model ``θ_prev`` and its members' updates ``Δ_i``. Nothing is retrained: a
coalition model is a weighted sum of uploaded tensors. The round's aggregation rule gives each
participant a coefficient ``c_i`` and a normaliser ``h_i`` (FedAvg: both its capped sample
count ``n_i``; q-FFL: see :mod:`valuation.local_loss`), and ``coalition_model`` says which total
a coalition divides by:

``"fixed_weights"`` (default)
    ``θ_S = θ_prev + Σ_{i∈S} c_i Δ_i / Σ_{j∈N} h_j`` — every member keeps the weight it has in
    the round's aggregate, so θ_N is the aggregate and a coalition is the aggregate with the
    other members' terms removed. A zero update then changes no coalition's model: it is a
    null player and its Shapley value is exactly 0, and an identity's weight grows with its
    own data only.
``"reweighted"``
    ``θ_S = θ_prev + Σ_{i∈S} c_i Δ_i / Σ_{i∈S} h_i`` — each coalition is aggregated as if it
    were the whole round (the utility of earlier releases). A near-zero update shrinks the
    step of every coalition it joins, which on non-IID data often scores better, so it is
    paid for noise; and a coalition of small identities takes a full step, so splitting data
    over identities pays (see docs/valuation.md).

``θ_∅ = θ_prev`` in both.

Two paths compute the same numbers:

* :meth:`ModelUtility.__call__` — one coalition at a time: build θ_S, run the model. Simple,
  and the reference the batched path is tested against.
* :meth:`ModelUtility.evaluate_many` — many coalitions at once. Every coalition's parameters are
  ``θ_prev + w_S · Δ`` with a weight row ``w_S`` (``c_i / D_S`` on members, 0 elsewhere), so
  stacking the rows ``[1 | w_S]`` of ``C`` coalitions into a ``C×(n+1)`` matrix ``W`` turns
  parameter building into one matrix product per layer. The first layer is linear in its
  weights, hence its output for a coalition is ``W`` times the outputs ``f(X; θ_prev)`` and
  ``f(X; Δ_i)`` computed once at construction; deeper layers run on the stacked coalition
  weights as batched matrix products (``bmm``, biases folded in) and grouped convolutions.
  Coalitions are processed in chunks to bound memory (see docs/batched-evaluation.md).

Numerics and determinism (what an auditor on another machine can expect): all arithmetic runs
on the CPU in one fixed dtype (float64 by default), with no random state and no atomics, so a
machine reproduces its own results bit for bit at a fixed thread count. Another machine (other
BLAS build, SIMD width or thread count) sums in another order: float64 scores then differ by
about 1e-15 relative (``neg_loss``), and ``accuracy`` differs only if two logits tie to within
that noise, which a trained model practically never produces. :data:`UTILITY_ABS_TOLERANCE`
(1e-9) is the documented bound for comparing float64 utilities; float32 is accepted for speed
but its noise (about 1e-6) makes audits looser.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional

from valuation.architecture import build_module
from valuation.config import COALITION_MODELS, SCORES, CoalitionModel, Score
from valuation.errors import GameError
from valuation.model_spec import ModelSpec, parameter_shapes
from valuation.utility import Coalition

__all__ = ["DEFAULT_CHUNK_BYTES", "SCORES", "UTILITY_ABS_TOLERANCE", "ModelUtility", "Score"]

#: Absolute tolerance for comparing float64 utilities computed on different machines.
UTILITY_ABS_TOLERANCE = 1e-9

#: Default memory budget (bytes) for the activations of one chunk of coalitions.
DEFAULT_CHUNK_BYTES = 8 * 2**20


@dataclass(frozen=True)
class _Layer:
    """One step of the model as the batched evaluator sees it."""

    kind: Literal["linear", "conv", "relu", "pool", "flatten"]
    name: str = ""  # parameter prefix ("1" for "1.weight"), trainable layers only


def _plan(module: nn.Sequential) -> list[_Layer]:
    """The sequence of operations of a module built by :func:`build_module`."""
    steps: list[_Layer] = []
    for name, layer in module.named_children():
        if isinstance(layer, nn.Linear):
            steps.append(_Layer("linear", name))
        elif isinstance(layer, nn.Conv2d):
            steps.append(_Layer("conv", name))
        elif isinstance(layer, nn.ReLU):
            steps.append(_Layer("relu"))
        elif isinstance(layer, nn.MaxPool2d):
            steps.append(_Layer("pool"))
        elif isinstance(layer, nn.Flatten):
            steps.append(_Layer("flatten"))
        else:  # pragma: no cover - architecture.py builds only the layers above
            raise TypeError(f"unsupported layer {type(layer).__name__}")
    return steps


def _rule_vector(
    what: str, given: Sequence[float] | None, counts: np.ndarray, *, allow_zero: bool
) -> np.ndarray:
    """An aggregation rule's per-participant numbers (default: the sample counts), checked."""
    if given is None:
        return counts.copy()
    vector = np.asarray(given, dtype=np.float64)
    if vector.shape != counts.shape:
        raise GameError(f"{vector.shape[0] if vector.ndim else 0} {what} for {counts.size} updates")
    if (
        not np.all(np.isfinite(vector))
        or np.any(vector < 0)
        or (not allow_zero and np.any(vector <= 0))
    ):
        bound = ">= 0" if allow_zero else "> 0"
        raise GameError(f"{what} must be finite and {bound}, got {vector.tolist()}")
    return vector


def _checked_params(
    what: str, params: Mapping[str, np.ndarray], shapes: Mapping[str, tuple[int, ...]]
) -> dict[str, np.ndarray]:
    """``params`` as float64 arrays after checking names, shapes and finiteness."""
    if set(params) != set(shapes):
        missing = sorted(set(shapes) - set(params))
        extra = sorted(set(params) - set(shapes))
        raise GameError(f"{what}: parameter names differ (missing {missing}, unexpected {extra})")
    out: dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        arr = np.asarray(params[name], dtype=np.float64)
        if arr.shape != shape:
            raise GameError(f"{what}: {name} has shape {arr.shape}, expected {shape}")
        if not np.all(np.isfinite(arr)):
            raise GameError(f"{what}: {name} contains NaN or Inf")
        out[name] = arr
    return out


class ModelUtility:
    """Validation score of a coalition's model; implements the ``Utility`` protocol.

    ``score="accuracy"`` is the fraction of correctly classified validation samples;
    ``score="neg_loss"`` is minus the mean cross-entropy; ``score="neg_brier"`` is minus the
    mean multiclass Brier score ``Σ_k (p_k − [y = k])²`` (higher is better for all three).
    ``coalition_model`` is ``"fixed_weights"`` or ``"reweighted"`` (module docstring);
    ``coefficients`` and ``normalizers`` are the aggregation rule's ``c_i`` and ``h_i``
    (default: both the sample counts, i.e. FedAvg). ``batch_size`` is the number of coalitions
    per chunk in :meth:`evaluate_many`; by default it is chosen so one chunk's activations fit
    in :data:`DEFAULT_CHUNK_BYTES`.
    """

    def __init__(
        self,
        spec: ModelSpec,
        prev_params: Mapping[str, np.ndarray],
        updates: Sequence[Mapping[str, np.ndarray]],
        num_samples: Sequence[int],
        X_val: np.ndarray,
        y_val: np.ndarray,
        *,
        score: Score = "accuracy",
        dtype: type[np.floating] | np.dtype = np.float64,
        batch_size: int | None = None,
        coalition_model: CoalitionModel = "fixed_weights",
        coefficients: Sequence[float] | None = None,
        normalizers: Sequence[float] | None = None,
    ) -> None:
        if coalition_model not in COALITION_MODELS:
            raise GameError(
                f"unknown coalition model {coalition_model!r}; choose one of {COALITION_MODELS}"
            )
        if score not in SCORES:
            raise GameError(f"unknown score {score!r}; choose one of {SCORES}")
        if not updates:
            raise GameError("a coalition game needs at least one update")
        if len(num_samples) != len(updates):
            raise GameError(f"{len(updates)} updates but {len(num_samples)} sample counts")
        counts = np.asarray(num_samples, dtype=np.float64)
        if np.any(counts <= 0) or np.any(counts != np.round(counts)):
            raise GameError(f"sample counts must be positive integers, got {list(num_samples)}")
        if batch_size is not None and batch_size < 1:
            raise GameError(f"batch_size must be positive, got {batch_size}")
        np_dtype = np.dtype(dtype)
        if np_dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
            raise GameError(f"dtype must be float64 or float32, got {np_dtype}")

        self.spec = spec
        self.score: Score = score
        self.dtype = np_dtype
        self._torch_dtype = torch.float64 if np_dtype == np.float64 else torch.float32
        self.coalition_model: CoalitionModel = coalition_model
        self._coef = _rule_vector("coefficients", coefficients, counts, allow_zero=True)
        self._norm = _rule_vector("normalizers", normalizers, counts, allow_zero=False)
        shapes = parameter_shapes(spec)
        self._prev = _checked_params("previous model", prev_params, shapes)
        self._updates = [_checked_params(f"update {i}", u, shapes) for i, u in enumerate(updates)]

        X = np.asarray(X_val)
        y = np.asarray(y_val)
        if X.ndim < 1 or X.shape[0] == 0 or X.shape[0] != y.shape[0]:
            raise GameError(
                f"validation set needs matching non-empty X and y, got {X.shape}, {y.shape}"
            )
        if X.size != X.shape[0] * spec.input_dim:
            raise GameError(f"validation inputs of shape {X.shape} do not fit {spec.input_shape}")
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise GameError("validation labels must be a 1-d integer array")
        if y.min() < 0 or y.max() >= spec.num_classes:
            raise GameError(f"validation labels must lie in [0, {spec.num_classes})")
        self._x = torch.from_numpy(
            np.ascontiguousarray(X, dtype=np_dtype).reshape(-1, *spec.input_shape)
        )
        self._y = torch.from_numpy(y.astype(np.int64))

        self._module = build_module(spec, seed=0)
        self._plan = _plan(self._module)
        self._batch_size = batch_size
        self._prepare_batched()
        self._chunk = self._default_chunk()

    # -- the Utility protocol -------------------------------------------------------------

    @property
    def n_players(self) -> int:
        return len(self._updates)

    def __call__(self, coalition: Coalition) -> float:
        """Score of one coalition: build θ_S and run the model (the reference path)."""
        params = self.coalition_params(coalition)
        tensors = {k: torch.from_numpy(v.astype(self.dtype)) for k, v in params.items()}
        with torch.no_grad():
            logits = torch.func.functional_call(self._module, tensors, (self._x,))
        return float(self._scores(logits.unsqueeze(0))[0])

    def evaluate_many(self, coalitions: Sequence[Coalition]) -> np.ndarray:
        """Scores of ``coalitions`` in order (float64), computed chunk by chunk in batch."""
        if not coalitions:
            return np.zeros(0, dtype=np.float64)
        weights = self.weights(coalitions)
        weights = np.hstack([np.ones((len(coalitions), 1)), weights])
        chunk = self._batch_size or self._chunk
        out = np.empty(len(coalitions), dtype=np.float64)
        with torch.no_grad():
            for start in range(0, len(coalitions), chunk):
                w = torch.from_numpy(weights[start : start + chunk].astype(self.dtype))
                out[start : start + chunk] = self._scores(self._batched_logits(w))
        return out

    # -- coalition models ------------------------------------------------------------------

    def weights(self, coalitions: Sequence[Coalition]) -> np.ndarray:
        """The ``C×n`` aggregation weights: row ``c`` holds ``c_i / D_{S_c}`` for members, with
        ``D_S = Σ_{j∈N} h_j`` (fixed weights) or ``Σ_{j∈S} h_j`` (reweighted)."""
        n = self.n_players
        mask = np.zeros((len(coalitions), n), dtype=np.float64)
        for row, coalition in enumerate(coalitions):
            members = list(coalition)
            if members and (min(members) < 0 or max(members) >= n):
                raise GameError(f"coalition {sorted(members)} has players outside 0..{n - 1}")
            mask[row, members] = 1.0
        sized = mask * self._coef
        if self.coalition_model == "fixed_weights":
            return sized / float(np.sum(self._norm))
        totals = (mask * self._norm).sum(axis=1, keepdims=True)
        return np.divide(sized, totals, out=np.zeros_like(sized), where=totals > 0)

    def coalition_params(self, coalition: Coalition) -> dict[str, np.ndarray]:
        """θ_S as float64 arrays (θ_prev for the empty coalition)."""
        members = sorted(frozenset(coalition))
        if members and (members[0] < 0 or members[-1] >= self.n_players):
            raise GameError(f"coalition {members} has players outside 0..{self.n_players - 1}")
        if self.coalition_model == "fixed_weights":
            total = float(np.sum(self._norm))
        else:
            total = float(sum(self._norm[i] for i in members))
        params = {k: v.copy() for k, v in self._prev.items()}
        for i in members:
            share = self._coef[i] / total
            for name, delta in self._updates[i].items():
                params[name] += share * delta
        return params

    # -- batched evaluation ----------------------------------------------------------------

    def _prepare_batched(self) -> None:
        """Precompute what every chunk shares: first-layer outputs and stacked later updates.

        Linear layers are stored *augmented* so that a bias costs no extra pass: activations
        entering a linear layer carry a trailing constant-1 column, the layer's matrix is
        ``[[Wᵀ, 0], [b, 1]]`` (the last column only for hidden layers, to carry the 1 onward),
        and the update stacks hold ``[[ΔWᵀ, 0], [Δb, 0]]``. A coalition's matrix
        ``prev + Σ w_i Δ_i`` then keeps the constant column exactly 1 and one ``bmm`` per layer
        does the affine map. The first layer is evaluated per participant, once.
        """
        first = next(i for i, s in enumerate(self._plan) if s.kind in ("linear", "conv"))
        trainable = [i for i, s in enumerate(self._plan) if s.kind in ("linear", "conv")]
        last = trainable[-1]
        layer = self._plan[first]

        def as_tensor(arr: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(arr, dtype=self.dtype))

        x = self._x if layer.kind == "conv" else self._x.reshape(self._x.shape[0], -1)
        sources = [self._prev, *self._updates]
        with torch.no_grad():
            outputs = []
            for params in sources:
                weight = as_tensor(params[f"{layer.name}.weight"])
                bias = as_tensor(params[f"{layer.name}.bias"])
                if layer.kind == "conv":
                    outputs.append(functional.conv2d(x, weight, bias, padding=1))
                else:
                    out = functional.linear(x, weight, bias)
                    if first != last:  # append the constant column: 1 for θ_prev, 0 for Δ_i
                        fill = 1.0 if params is self._prev else 0.0
                        out = functional.pad(out, (0, 1), value=fill)
                    outputs.append(out)
        self._first_index = first
        self._first_shape = tuple(outputs[0].shape)  # (N, h[+1]) or (N, c, H, W)
        # row 0 is θ_prev's output, row 1+i participant i's: one plain matrix product per chunk
        self._first_stack = torch.stack(outputs).reshape(len(sources), -1).contiguous()

        self._later: dict[str, torch.Tensor] = {}
        for index in trainable[1:]:
            step = self._plan[index]
            stacks: list[tuple[np.ndarray, np.ndarray]] = []
            for params in sources:
                w_arr = params[f"{step.name}.weight"]
                b_arr = params[f"{step.name}.bias"]
                if step.kind == "conv":
                    stacks.append((w_arr.reshape(-1), b_arr))
                    continue
                carry = index != last
                aug = np.zeros((w_arr.shape[1] + 1, w_arr.shape[0] + int(carry)))
                aug[:-1, : w_arr.shape[0]] = w_arr.T
                aug[-1, : w_arr.shape[0]] = b_arr
                if carry and params is self._prev:
                    aug[-1, -1] = 1.0
                stacks.append((aug.reshape(-1), np.zeros(0)))
            self._later[f"{step.name}.weight"] = as_tensor(np.stack([s[0] for s in stacks]))
            self._later[f"{step.name}.bias"] = as_tensor(np.stack([s[1] for s in stacks]))

    def _combine(self, name: str, w: torch.Tensor) -> torch.Tensor:
        """Coalition parameters ``θ_prev + W Δ`` for every row of ``w`` (``[1 | W]`` rows
        against the ``[θ_prev; Δ_1; …; Δ_n]`` stack), flattened per row."""
        return torch.mm(w, self._later[name])

    def _batched_logits(self, w: torch.Tensor) -> torch.Tensor:
        """Logits ``(C, N, K)`` for the coalitions whose rows in ``w`` are ``[1 | w_S]``
        (``C×(n+1)``: the leading 1 carries θ_prev)."""
        c = w.shape[0]
        n_val = self._x.shape[0]
        h = torch.mm(w, self._first_stack).reshape(c, *self._first_shape)
        for step in self._plan[self._first_index + 1 :]:
            if step.kind == "relu":
                h = h.relu_()
            elif step.kind == "pool":
                ch, height, width = h.shape[2:]
                h = functional.max_pool2d(h.reshape(c * n_val, ch, height, width), 2)
                h = h.reshape(c, n_val, *h.shape[1:])
            elif step.kind == "flatten":  # only cnn flattens here: add the constant column
                h = functional.pad(h.reshape(c, n_val, -1), (0, 1), value=1.0)
            elif step.kind == "linear":
                weight = self._combine(f"{step.name}.weight", w).reshape(c, h.shape[2], -1)
                h = torch.bmm(h, weight)
            else:  # conv after the first layer: one grouped convolution over all coalitions
                ch_in, height, width = h.shape[2:]
                weight = self._combine(f"{step.name}.weight", w)
                weight = weight.reshape(c * weight.shape[1] // (ch_in * 9), ch_in, 3, 3)
                bias = self._combine(f"{step.name}.bias", w).reshape(-1)
                grouped = h.transpose(0, 1).reshape(n_val, c * ch_in, height, width)
                out = functional.conv2d(grouped, weight, bias, padding=1, groups=c)
                h = out.reshape(n_val, c, -1, height, width).transpose(0, 1)
        return h

    def _default_chunk(self) -> int:
        """Coalitions per chunk so that the widest activation (in and out) fits the budget."""
        h = torch.zeros(1, *self.spec.input_shape)
        widest = h.numel()
        with torch.no_grad():
            for layer in self._module:
                h = layer(h)
                widest = max(widest, h.numel() + 1)
        per_coalition = 2 * widest * self._x.shape[0] * self.dtype.itemsize
        return max(1, min(4096, DEFAULT_CHUNK_BYTES // per_coalition))

    def _scores(self, logits: torch.Tensor) -> np.ndarray:
        """Per-coalition score from logits ``(C, N, K)``."""
        n_val = logits.shape[1]
        if self.score == "accuracy":
            # max().indices is the first maximal index, as argmax, and faster on a short last axis
            correct = (logits.max(dim=2).indices == self._y).sum(dim=1)
            return correct.numpy().astype(np.float64) / n_val
        if self.score == "neg_brier":
            probs = functional.softmax(logits, dim=2)
            target = functional.one_hot(self._y, probs.shape[2]).to(probs.dtype)
            return -((probs - target) ** 2).sum(dim=2).mean(dim=1).double().numpy()
        logp = functional.log_softmax(logits, dim=2)
        picked = logp.gather(2, self._y.expand(logits.shape[0], n_val).unsqueeze(2)).squeeze(2)
        return picked.mean(dim=1).double().numpy()
