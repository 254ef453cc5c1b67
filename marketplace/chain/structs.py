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
    EVIDENCE = 9  # challenge window over: challengers reveal their evidence
    RULING = 10  # evidence window over: awaiting the arbiter's ruling


class TaskStatus(IntEnum):
    """`TaskStatus` as stored."""

    NONE = 0
    ACTIVE = 1
    ENDED = 2
    CANCELLED = 3


class RoundStatus(IntEnum):
    """`RoundStatus` as stored (a due settlement reads Settled/Challenged until finalized)."""

    NONE = 0
    OPEN = 1
    SETTLED = 2
    CHALLENGED = 3
    FINAL = 4


class Outcome(IntEnum):
    """How a final settlement became final (`Outcome`; decides who gets the bonds)."""

    NONE = 0
    UNCHALLENGED = 1  # challenge window passed without a challenge
    REJECTED = 2  # the arbiter rejected the challenges: the settlement stands
    CORRECTED = 3  # the arbiter upheld: its corrected settlement replaced the aggregator's
    NO_EVIDENCE = 4  # challenged, but no challenger revealed evidence: the settlement stands
    ARBITER_SILENT = 5  # evidence revealed, the arbiter silent past its deadline: it stands

    @property
    def label(self) -> str:
        """The outcome's name in reports and the API (``no-evidence``, ``arbiter-silent``, ...)."""
        return self.name.lower().replace("_", "-")


class ChallengeState(IntEnum):
    """One challenger's challenge of one settlement (`ChallengeState`)."""

    NONE = 0
    COMMITTED = 1  # bond posted with an evidence commitment
    REVEALED = 2  # evidence revealed in time
    COLLECTED = 3  # bond (and share) taken back


class EndReason(IntEnum):
    """`TaskEnded.reason`: why a task ended."""

    COMPLETED = 0  # the last round became final
    SETTLEMENT_MISSED = 1  # wound down: the open round was not settled in time
    ROUND_NOT_OPENED = 2  # wound down: round 1 or the next round was not opened in time

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


#: Upper bound of ``TaskParams.slash_bps`` (`Marketplace.MAX_SLASH_BPS`).
MAX_SLASH_BPS = 5_000
#: Denominator of ``slash_bps``.
BPS = 10_000


@dataclass(frozen=True)
class TaskParams:
    """What a requester fixes when creating a task (field order = the Solidity struct).

    Every window is in seconds and at least the marketplace's ``minWindow``; requester,
    aggregator and arbiter are three different accounts; ``settle_bond`` > 0 is both the
    aggregator's bond (held for the task) and each challenger's.
    """

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
    resolve_window: int
    claim_window: int
    aggregator: str
    arbiter: str
    settle_bond: int
    slash_bps: int = 1000
    max_samples: int = 10_000

    def as_tuple(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))

    @property
    def escrow(self) -> int:
        return self.rounds * self.round_budget


@dataclass(frozen=True)
class RoundClaim:
    """One round of a multi-round `claim`: the amount in that round's tree and its proof."""

    round: int
    amount: int
    proof: list[bytes]

    def as_tuple(self) -> tuple[int, int, list[bytes]]:
        return (self.round, self.amount, list(self.proof))


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
    """`getTask(taskId)`; hashes as 0x-hex strings.

    ``open_deadline`` (the latest time to open the next round) and ``claim_deadline`` read 0
    while the latest settlement is due but not finalized yet (finalization is lazy).
    """

    @property
    def phase_status(self) -> TaskStatus:
        return TaskStatus(int(self.data["status"]))


class RoundInfo(StructView):
    """`getRound(taskId, round)`: stored status and outcome, every deadline, totals."""

    @property
    def round_status(self) -> RoundStatus:
        return RoundStatus(int(self.data["status"]))

    @property
    def round_outcome(self) -> Outcome:
        return Outcome(int(self.data["outcome"]))


@dataclass(frozen=True)
class ParticipantRound:
    """`participantRoundOf(taskId, round, account)`: one participant's standing in one round."""

    commitment: bytes
    revealed: bool
    slashed: bool
    claimed: bool

    @property
    def committed(self) -> bool:
        return self.commitment != bytes(32)


@dataclass(frozen=True)
class ChallengeInfo:
    """`challengeOf(taskId, round, account)`."""

    commitment: bytes
    state: ChallengeState
