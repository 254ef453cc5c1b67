"""Typed views of the Marketplace's structs, enums and parameters (mirrors MarketplaceTypes.sol)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import IntEnum
from typing import Any


class Phase(IntEnum):
    """`Marketplace.phase(taskId)`: where a task is in the round protocol."""

    NONE = 0
    CREATED = 1
    COMMIT = 2
    REVEAL = 3
    SETTLE = 4
    CHALLENGE = 5
    FINAL = 6
    ENDED = 7
    CANCELLED = 8


class TaskStatus(IntEnum):
    NONE = 0
    ACTIVE = 1
    ENDED = 2
    CANCELLED = 3


class RoundStatus(IntEnum):
    NONE = 0
    OPEN = 1
    SETTLED = 2
    CHALLENGED = 3
    FINAL = 4
    VOIDED = 5


ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


@dataclass(frozen=True)
class TaskParams:
    """What a requester fixes when creating a task (field order = the Solidity struct)."""

    spec_cid: str
    initial_model_cid: str
    validation_sha256: bytes
    rounds: int
    round_budget: int
    min_stake: int
    commit_window: int
    reveal_window: int
    settle_window: int
    challenge_window: int
    aggregator: str
    arbiter: str = ZERO_ADDRESS
    settle_bond: int = 0
    slash_bps: int = 1000
    max_samples: int = 10_000

    def as_tuple(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))

    @property
    def escrow(self) -> int:
        return self.rounds * self.round_budget


def snake_case(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if (
            ch.isupper()
            and i
            and (not name[i - 1].isupper() or (i + 1 < len(name) and name[i + 1].islower()))
        ):
            out.append("_")
        out.append(ch.lower())
    return "".join(out)


def struct_to_dict(outputs: list[dict[str, Any]], value: Any) -> dict[str, Any]:
    """Name the positional tuple web3 returns for a struct, using the ABI's component names."""
    if isinstance(value, Mapping):  # web3 decodes event tuples to name-keyed dicts
        return {snake_case(str(k)): _plain(v) for k, v in value.items()}
    if len(outputs) == 1 and outputs[0]["type"] == "tuple":
        components = outputs[0]["components"]
        return {snake_case(c["name"]): _plain(v) for c, v in zip(components, value, strict=True)}
    values = value if isinstance(value, list | tuple) else (value,)
    return {
        snake_case(o["name"] or f"out{i}"): _plain(v)
        for i, (o, v) in enumerate(zip(outputs, values, strict=True))
    }


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


@dataclass(frozen=True)
class StructView:
    """A struct returned by a view call, its fields readable as snake_case attributes."""

    data: dict[str, Any]

    def __getattr__(self, item: str) -> Any:
        try:
            return self.data[item]
        except KeyError:
            raise AttributeError(item) from None


class TaskInfo(StructView):
    """`getTask(taskId)`; hashes as 0x-hex strings."""

    @property
    def phase_status(self) -> TaskStatus:
        return TaskStatus(int(self.data["status"]))


class RoundInfo(StructView):
    """`getRound(taskId, round)`."""

    @property
    def round_status(self) -> RoundStatus:
        return RoundStatus(int(self.data["status"]))
