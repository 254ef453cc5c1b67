"""A public stand-in for each participant's loss at the global model (what q-FFL weighs by).

q-FFL (Li et al., ICLR 2020) upweights participants whose *own* data the global model fits
badly: it needs ``F_i(θ)``, participant ``i``'s training loss at the global model. Nobody but
the participant can compute that on a marketplace — its data are private — and a self-reported
loss could not be checked. What anyone holding the round's inputs can compute is how far the
global model is from what participant ``i``'s data taught its local model:

    F_i = mean over validation inputs x of  H(p_i(·|x), p_θ(·|x))
        = − mean_x Σ_c p_i(c|x) · log p_θ(c|x)

the cross-entropy of the global model ``θ`` against the predictions of the participant's
trained model ``θ + Δ_i``, on the validation *inputs* (labels are not used). It is the global
model's loss on the labels participant ``i``'s model would assign: large exactly when the global
model disagrees with what ``i`` learned, as ``F_i(θ)`` is large when ``θ`` serves ``i``'s
distribution badly. Deterministic (float64, CPU), so the audit recomputes the same numbers.

Like q-FFL itself it rewards disagreement, so an update that is noise has a large ``F_i``; the
task's norm bound (``max_update_norm``) limits what that buys, and the valuation still prices
that update by its effect on the validation score.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from valuation.architecture import forward
from valuation.model_spec import ModelSpec


def disagreement_losses(
    spec: ModelSpec,
    global_params: Mapping[str, np.ndarray],
    updates: Sequence[Mapping[str, np.ndarray]],
    X: np.ndarray,
) -> np.ndarray:
    """``F_i`` for every update (float64, module docstring), in update order."""
    x = torch.from_numpy(np.array(X, dtype=np.float64).reshape(-1, *spec.input_shape))

    def as_tensors(params: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
        return {k: torch.from_numpy(np.asarray(v, dtype=np.float64)) for k, v in params.items()}

    with torch.no_grad():
        log_global = torch.log_softmax(forward(spec, as_tensors(global_params), x), dim=1)
        losses = []
        for update in updates:
            local = {
                k: np.asarray(global_params[k], dtype=np.float64) + np.asarray(v, np.float64)
                for k, v in update.items()
            }
            p_local = torch.softmax(forward(spec, as_tensors(local), x), dim=1)
            losses.append(float(-(p_local * log_global).sum(dim=1).mean()))
    return np.asarray(losses, dtype=np.float64)
