"""The ML part, free of any Flower or fedmarket code: the model, the data, training.

The model is the task's MLP 64-64-10, built from the same description the market published
(``valuation.architecture``), so its parameter names and shapes are the ones the task's
update checks expect.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from marketplace.protocol.dataset import Dataset, load_npz
from valuation.architecture import build_module
from valuation.model_spec import ModelSpec

MODEL = ModelSpec("mlp", (64,), 10, hidden=(64, 64))


def build_model() -> nn.Module:
    return build_module(MODEL, seed=0)


def load_data(path: str) -> Dataset:
    """This organisation's digits shard (.npz with X, y)."""
    return load_npz(path)


def train(model: nn.Module, data: Dataset, *, epochs: int, lr: float, seed: int = 0) -> float:
    """Plain minibatch SGD with momentum; the mean loss of the last epoch."""
    generator = torch.Generator().manual_seed(seed)
    X = torch.from_numpy(np.asarray(data.X, dtype=np.float32))
    y = torch.from_numpy(np.asarray(data.y, dtype=np.int64))
    optimiser = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    last = 0.0
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=generator)
        total = 0.0
        for start in range(0, len(X), 64):
            batch = order[start : start + 64]
            optimiser.zero_grad()
            loss = loss_fn(model(X[batch]), y[batch])
            loss.backward()
            optimiser.step()
            total += float(loss) * len(batch)
        last = total / len(X)
    return last


def evaluate(model: nn.Module, data: Dataset) -> tuple[float, float]:
    """(loss, accuracy) on ``data``."""
    X = torch.from_numpy(np.asarray(data.X, dtype=np.float32))
    y = torch.from_numpy(np.asarray(data.y, dtype=np.int64))
    model.eval()
    with torch.no_grad():
        logits = model(X)
        loss = float(nn.functional.cross_entropy(logits, y))
        accuracy = float((logits.argmax(1) == y).float().mean())
    return loss, accuracy
