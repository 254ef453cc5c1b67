"""Local training and evaluation of a task's model: plain torch, weights as numpy dicts.

Weights and updates travel as ``dict[str, np.ndarray]`` of float32 keyed by the parameter names
of :func:`valuation.architecture.build_module` (``"1.weight"``, ...), in sorted name order.
:func:`train_local` returns the *update* ``Δ = trained − global``, which is what a participant
uploads and what the aggregators and the valuation combine.

Determinism: with the same inputs and ``seed``, :func:`train_local` returns bit-identical
updates on the same machine and torch build (the batch order comes from a private
``torch.Generator``; the global torch RNG is neither used nor disturbed). Nobody re-runs
training during an audit, so bit-equality across machines is not required.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import nn

from valuation.architecture import build_module
from valuation.model_spec import ModelSpec, parameter_shapes

Params = dict[str, np.ndarray]
"""Weights or an update: parameter name → float32 array."""

OPTIMIZERS: tuple[str, ...] = ("sgd", "momentum", "adam")
"""Local optimisers: plain SGD, SGD with momentum 0.9, Adam. State is fresh every call."""


def initial_params(spec: ModelSpec, seed: int) -> Params:
    """The model's initial weights for ``seed`` (torch's default init), as float32 arrays."""
    return module_params(build_module(spec, seed=seed))


def module_params(module: nn.Module) -> Params:
    """A module's parameters as float32 numpy copies, in sorted name order."""
    return {
        name: p.detach().cpu().numpy().astype(np.float32, copy=True)
        for name, p in sorted(module.named_parameters())
    }


def check_params(spec: ModelSpec, params: Mapping[str, np.ndarray], what: str = "params") -> None:
    """Raise ValueError unless ``params`` has exactly the spec's parameter names and shapes."""
    shapes = parameter_shapes(spec)
    if set(params) != set(shapes):
        missing = sorted(set(shapes) - set(params))
        extra = sorted(set(params) - set(shapes))
        raise ValueError(f"{what} do not match the model: missing {missing}, unexpected {extra}")
    for name, shape in shapes.items():
        got = tuple(np.shape(params[name]))
        if got != shape:
            raise ValueError(f"{what}[{name!r}] has shape {got}, the model needs {shape}")


def load_module(spec: ModelSpec, params: Mapping[str, np.ndarray]) -> nn.Sequential:
    """A fresh module for ``spec`` holding ``params`` (checked against the spec)."""
    check_params(spec, params)
    module = build_module(spec, seed=0)
    state = {name: torch.tensor(np.asarray(v, dtype=np.float32)) for name, v in params.items()}
    module.load_state_dict(state, strict=True)
    return module


def _as_tensors(spec: ModelSpec, X: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    features = np.asarray(X, dtype=np.float32)
    labels = np.asarray(y, dtype=np.int64)
    if features.shape[0] != labels.shape[0]:
        raise ValueError(f"{features.shape[0]} samples but {labels.shape[0]} labels")
    if features.shape[0] == 0:
        raise ValueError("no samples")
    if int(np.prod(features.shape[1:])) != spec.input_dim:
        raise ValueError(f"samples of shape {features.shape[1:]} do not fit {spec.input_shape}")
    if labels.min() < 0 or labels.max() >= spec.num_classes:
        raise ValueError(f"labels must lie in [0, {spec.num_classes})")
    xt = torch.tensor(features).reshape(-1, *spec.input_shape)
    return xt, torch.tensor(labels)


def _optimizer(name: str, params: list[nn.Parameter], lr: float) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {OPTIMIZERS}")


def train_local(
    spec: ModelSpec,
    global_params: Mapping[str, np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int = 1,
    lr: float = 0.05,
    batch_size: int = 32,
    seed: int = 0,
    optimizer: str = "sgd",
    progress: Callable[[int, int], None] | None = None,
    num_threads: int | None = 1,
) -> Params:
    """Train from ``global_params`` on ``(X, y)`` and return the update ``trained − global``.

    Minibatch training with cross-entropy, reshuffled every epoch by a generator seeded with
    ``seed``. ``progress(done, total)`` is called after each epoch (``total == epochs``).
    The result has the same names and shapes as ``global_params``, float32.

    ``num_threads`` sets torch's intra-op threads for the duration of the call (restored after):
    the task models are tiny, and one thread is several times faster than many on a busy
    machine. ``None`` leaves torch's setting alone.
    """
    if epochs < 0:
        raise ValueError(f"epochs must be non-negative, got {epochs}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if not lr > 0:
        raise ValueError(f"learning rate must be positive, got {lr}")
    if num_threads is not None and num_threads < 1:
        raise ValueError(f"num_threads must be positive, got {num_threads}")
    module = load_module(spec, global_params)
    xt, yt = _as_tensors(spec, X, y)
    opt = _optimizer(optimizer, list(module.parameters()), lr)
    threads_before = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        _run_epochs(module, opt, xt, yt, epochs, batch_size, seed, progress)
    finally:
        torch.set_num_threads(threads_before)
    trained = module_params(module)
    return {
        name: (trained[name] - np.asarray(global_params[name], dtype=np.float32)).astype(np.float32)
        for name in trained
    }


def _run_epochs(
    module: nn.Module,
    opt: torch.optim.Optimizer,
    xt: torch.Tensor,
    yt: torch.Tensor,
    epochs: int,
    batch_size: int,
    seed: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    """Minibatch cross-entropy training, reshuffled every epoch from a private generator."""
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(int(seed))
    n = xt.shape[0]
    module.train()
    for epoch in range(epochs):
        order = torch.randperm(n, generator=gen)
        for start in range(0, n, batch_size):
            batch = order[start : start + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(module(xt[batch]), yt[batch])
            loss.backward()
            opt.step()
        if progress is not None:
            progress(epoch + 1, epochs)


def evaluate(
    spec: ModelSpec, params: Mapping[str, np.ndarray], X: np.ndarray, y: np.ndarray
) -> tuple[float, float]:
    """``(accuracy, mean cross-entropy loss)`` of the model ``params`` on ``(X, y)``."""
    module = load_module(spec, params)
    xt, yt = _as_tensors(spec, X, y)
    module.eval()
    with torch.no_grad():
        logits = module(xt)
        loss = nn.functional.cross_entropy(logits, yt).item()
        accuracy = (logits.argmax(dim=1) == yt).double().mean().item()
    return float(accuracy), float(loss)


def apply_update(
    params: Mapping[str, np.ndarray], update: Mapping[str, np.ndarray], scale: float = 1.0
) -> Params:
    """``params + scale * update`` per name (float32); both must have the same names and shapes."""
    if set(params) != set(update):
        raise ValueError(
            f"update names {sorted(update)} do not match parameter names {sorted(params)}"
        )
    out: Params = {}
    for name in sorted(params):
        p = np.asarray(params[name], dtype=np.float32)
        u = np.asarray(update[name], dtype=np.float32)
        if p.shape != u.shape:
            raise ValueError(f"update[{name!r}] has shape {u.shape}, parameter has {p.shape}")
        out[name] = (p + np.float32(scale) * u).astype(np.float32)
    return out
