"""FedAvg on non-IID digits reaches (nearly) the accuracy of centralised training.

A pure in-process simulation — no chain, no IPFS — of the learning the marketplace runs: ten
participants hold Dirichlet(0.5) shards of the digits training split, train an MLP 64-64-10
locally for E epochs per round, and the global model moves by the FedAvg of their updates for
ten rounds. The baseline trains the same model from the same initial weights on the pooled
training split for the same number of epochs (10 rounds x E) with the same optimiser settings.
Both are scored on the same held-out 20%.

Settings: E = 10, SGD with momentum 0.9, lr 0.2, batch 64. Large batches keep the number of
local steps per round small, which limits client drift on the small non-IID shards, while ten
local epochs still let ten rounds converge.
"""

from __future__ import annotations

import pytest

from marketplace.aggregators import FedAvg
from marketplace.protocol.dataset import Dataset
from participant.data import dirichlet_partition, load_digits, train_validation_split
from participant.training import Params, apply_update, evaluate, initial_params, train_local
from valuation.model_spec import ModelSpec

SPEC = ModelSpec("mlp", (64,), 10, hidden=(64,))
ROUNDS = 10
PARTICIPANTS = 10
ALPHA = 0.5
LOCAL_EPOCHS = 10
LR = 0.2
BATCH = 64
OPTIMIZER = "momentum"


def local_train(params: Params, data: Dataset, epochs: int, seed: int) -> Params:
    return train_local(
        SPEC,
        params,
        data.X,
        data.y,
        epochs=epochs,
        lr=LR,
        batch_size=BATCH,
        optimizer=OPTIMIZER,
        seed=seed,
    )


def federated(train: Dataset, seed: int) -> Params:
    shards = [train.subset(idx) for idx in dirichlet_partition(train.y, PARTICIPANTS, ALPHA, seed)]
    aggregator = FedAvg()
    params = initial_params(SPEC, seed)
    for rnd in range(ROUNDS):
        updates = [
            local_train(params, shard, LOCAL_EPOCHS, seed=1000 * rnd + k)
            for k, shard in enumerate(shards)
        ]
        params = apply_update(params, aggregator.aggregate(updates, [len(s) for s in shards]))
    return params


def centralised(train: Dataset, seed: int) -> Params:
    params = initial_params(SPEC, seed)
    return apply_update(params, local_train(params, train, ROUNDS * LOCAL_EPOCHS, seed=seed))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fedavg_on_non_iid_digits_is_within_two_points_of_centralised(seed: int) -> None:
    train, test = train_validation_split(load_digits(), 0.2, seed)

    fed_accuracy, _ = evaluate(SPEC, federated(train, seed), test.X, test.y)
    central_accuracy, _ = evaluate(SPEC, centralised(train, seed), test.X, test.y)

    print(f"seed {seed}: federated {fed_accuracy:.4f}, centralised {central_accuracy:.4f}")
    assert central_accuracy > 0.94
    assert fed_accuracy >= central_accuracy - 0.02
