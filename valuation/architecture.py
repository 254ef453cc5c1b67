"""Torch modules for model specs: build, and run one model with given weights.

:class:`~valuation.model_spec.ModelSpec` describes the model; this module turns it into a
``torch.nn.Sequential`` whose parameter names match :func:`valuation.model_spec.parameter_shapes`.
"""

from __future__ import annotations

import torch
from torch import nn

from valuation.model_spec import ModelSpec


def build_module(spec: ModelSpec, seed: int | None = None) -> nn.Sequential:
    """The torch module for ``spec``; with ``seed`` its initial weights are reproducible."""
    if seed is not None:
        gen_state = torch.random.get_rng_state()
        torch.manual_seed(seed)
    layers: list[nn.Module] = []
    if spec.family == "cnn":
        in_ch, h, w = spec.input_shape
        for ch in spec.channels:
            layers += [nn.Conv2d(in_ch, ch, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2)]
            in_ch, h, w = ch, h // 2, w // 2
        layers.append(nn.Flatten())
        width = in_ch * h * w
    else:
        layers.append(nn.Flatten())
        width = spec.input_dim
    for hid in spec.hidden:
        layers += [nn.Linear(width, hid), nn.ReLU()]
        width = hid
    layers.append(nn.Linear(width, spec.num_classes))
    module = nn.Sequential(*layers)
    if seed is not None:
        torch.random.set_rng_state(gen_state)
    return module


def forward(spec: ModelSpec, params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Logits of the model ``spec`` with weights ``params`` on inputs ``x`` (one model)."""
    module = build_module(spec, seed=0)
    return torch.func.functional_call(module, params, (x.reshape(-1, *spec.input_shape),))
