"""The q-FFL loss stand-in: the global model's cross-entropy against a participant's model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from valuation.architecture import build_module
from valuation.local_loss import disagreement_losses
from valuation.model_spec import ModelSpec

SPEC = ModelSpec("mlp", (64,), 10, hidden=(8,))


def test_disagreement_grows_with_the_participants_departure_from_the_global_model() -> None:
    # prepare
    X = load_digits().data[:100] / 16.0
    prev = {
        k: v.detach().numpy().astype(np.float64)
        for k, v in build_module(SPEC, 2).state_dict().items()
    }
    rng = np.random.default_rng(0)
    zero = {k: np.zeros_like(v) for k, v in prev.items()}
    small = {k: rng.normal(0, 0.05, v.shape) for k, v in prev.items()}
    large = {k: rng.normal(0, 1.0, v.shape) for k, v in prev.items()}

    # act
    losses = disagreement_losses(SPEC, prev, [zero, small, large], X)
    again = disagreement_losses(SPEC, prev, [zero, small, large], X)

    # assert: an unchanged model scores the global predictions' own entropy H(p, p)
    logits = torch.func.functional_call(
        build_module(SPEC, 0),
        {k: torch.from_numpy(v) for k, v in prev.items()},
        (torch.from_numpy(X),),
    )
    p = torch.softmax(logits, dim=1)
    entropy = float(-(p * torch.log_softmax(logits, dim=1)).sum(dim=1).mean())
    assert losses.dtype == np.float64 and np.all(losses > 0)
    assert losses[0] == pytest.approx(entropy, rel=1e-12)
    assert losses[2] > losses[1]  # a model far from the global one: the global model fits it worse
    np.testing.assert_array_equal(losses, again)  # deterministic, as the audit needs
