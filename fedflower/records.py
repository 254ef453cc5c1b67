"""What fedmarket adds to Flower messages: record names, message types, array conversions.

A paid round sends three kinds of message besides Flower's own:

* ``train`` (Flower's) carrying, next to the strategy's ``arrays`` and ``config``, a
  ``fedmarket`` ConfigRecord: task id, on-chain round, the round's global-model CID and the
  task spec (bytes and CID). The client checks both against the chain before training;
* ``train.fedmarket_reveal``: reveal the committed update on-chain and send its bytes;
* ``query.fedmarket_claim``: claim everything earned and take the stake back.

The replies to ``train`` carry only public facts (address, commitment, sample count): the
update itself travels after the commit window, when it can no longer be copied.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from flwr.app import Array, ArrayRecord

from marketplace.errors import ProtocolError

#: Name of the ConfigRecord fedmarket adds to message contents.
RECORD = "fedmarket"
#: Flower action names (``@app.train(REVEAL_ACTION)``, ``@app.query(CLAIM_ACTION)``).
REVEAL_ACTION = "fedmarket_reveal"
CLAIM_ACTION = "fedmarket_claim"
REVEAL = f"train.{REVEAL_ACTION}"
CLAIM = f"query.{CLAIM_ACTION}"


def to_array_record(params: Mapping[str, np.ndarray]) -> ArrayRecord:
    """Named float32 arrays as a Flower ArrayRecord (names kept, sorted)."""
    return ArrayRecord(
        {name: Array.from_numpy_ndarray(np.asarray(params[name])) for name in sorted(params)}
    )


def from_array_record(record: ArrayRecord) -> dict[str, np.ndarray]:
    """A Flower ArrayRecord as named numpy arrays (never unpickled: numpy's safe loader)."""
    return {name: array.numpy() for name, array in record.items()}


def get_int(record: Mapping[str, object], key: str) -> int:
    """An integer field of a received record (a clear error when it is missing or not one)."""
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ProtocolError(f"message field {key!r} should be an integer, got {value!r:.40}")
    return int(value)


def get_bytes(record: Mapping[str, object], key: str) -> bytes:
    """A bytes field of a received record (empty when absent)."""
    value = record.get(key, b"")
    if not isinstance(value, bytes):
        raise ProtocolError(f"message field {key!r} should be bytes")
    return value
