"""An in-memory chain of synthetic Marketplace events for fast indexer tests (no Anvil).

Blocks are numbered from 0; each holds a list of events and a hash derived from its parent's
hash, so replacing a block (a reorg) changes its hash and every later one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from marketplace.chain.events import ChainEvent

MARKET = "0x00000000000000000000000000000000000000aa"
REQUESTER = "0x1000000000000000000000000000000000000001"
AGGREGATOR = "0x2000000000000000000000000000000000000002"
ARBITER = "0x3000000000000000000000000000000000000003"
ALICE = "0xA11ce00000000000000000000000000000000001"
BOB = "0xB0b0000000000000000000000000000000000002"
TOKEN = 10**18


@dataclass
class FakeChain:
    """An :class:`~marketplace.api.indexer.EventSource` whose blocks tests write by hand."""

    blocks: list[list[tuple[str, dict[str, Any]]]] = field(default_factory=lambda: [[]])
    salt: str = "main"
    fetches: int = 0

    @property
    def chain_id(self) -> int:
        return 31337

    @property
    def marketplace(self) -> str:
        return MARKET

    def head(self) -> int:
        return len(self.blocks) - 1

    def block_hash(self, number: int) -> str | None:
        if number > self.head():
            return None
        digest = hashlib.sha256(self.salt.encode())
        for block in self.blocks[: number + 1]:
            digest = hashlib.sha256(digest.digest() + repr(block).encode())
        return "0x" + digest.hexdigest()

    def fetch(self, from_block: int, to_block: int) -> list[ChainEvent]:
        self.fetches += 1
        out = []
        for number in range(from_block, min(to_block, self.head()) + 1):
            for log_index, (name, args) in enumerate(self.blocks[number]):
                out.append(ChainEvent(name, dict(args), number, f"0x{number:064x}", log_index))
        return out

    def mine(self, *events: tuple[str, dict[str, Any]]) -> int:
        """Append one block holding ``events``; returns its number."""
        self.blocks.append(list(events))
        return self.head()

    def mine_empty(self, count: int) -> None:
        for _ in range(count):
            self.blocks.append([])


def task_created(task_id: int, rounds: int = 2, budget: int = 100 * TOKEN) -> tuple[str, dict]:
    params = {
        "spec_cid": f"bafyspec{task_id}",
        "initial_model_cid": f"bafyinit{task_id}",
        "validation_sha256": "0x" + "11" * 32,
        "rounds": rounds,
        "round_budget": budget,
        "min_stake": TOKEN,
        "commit_window": 10,
        "reveal_window": 10,
        "settle_window": 100,
        "challenge_window": 5,
        "resolve_window": 5,
        "claim_window": 100,
        "aggregator": AGGREGATOR,
        "arbiter": ARBITER,
        "settle_bond": TOKEN,
        "slash_bps": 1000,
        "max_samples": 10_000,
    }
    return ("TaskCreated", {"task_id": task_id, "requester": REQUESTER, "params": params})


def joined(task_id: int, who: str, stake: int = TOKEN) -> tuple[str, dict]:
    return ("ParticipantJoined", {"task_id": task_id, "participant": who, "stake": stake})


def opened(task_id: int, round_: int) -> tuple[str, dict]:
    return ("RoundOpened", {"task_id": task_id, "round": round_,
                            "global_model_cid": f"bafymodel{round_}", "commit_deadline": 100,
                            "reveal_deadline": 200, "settle_deadline": 300})  # fmt: skip


def committed(task_id: int, round_: int, who: str) -> tuple[str, dict]:
    return ("Committed", {"task_id": task_id, "round": round_, "participant": who,
                          "commitment": "0x" + "ab" * 32})  # fmt: skip


def revealed(task_id: int, round_: int, who: str, samples: int = 100) -> tuple[str, dict]:
    return ("Revealed", {"task_id": task_id, "round": round_, "participant": who,
                         "cid": f"bafyupdate{round_}{who[-4:]}", "sha256_digest": "0x" + "cd" * 32,
                         "num_samples": samples})  # fmt: skip


def settled(task_id: int, round_: int, report_cid: str, total_paid: int) -> tuple[str, dict]:
    return ("RoundSettled", {"task_id": task_id, "round": round_,
                             "new_global_cid": f"bafymodel{round_ + 1}", "report_cid": report_cid,
                             "payout_root": "0x" + "ef" * 32, "total_paid": total_paid,
                             "challenge_deadline": 400})  # fmt: skip


def finalized(task_id: int, round_: int, total_paid: int, outcome: int = 1,
              final_at: int = 500) -> tuple[str, dict]:  # fmt: skip
    """SettlementFinalized; ``outcome`` is an ``Outcome`` value (1 = unchallenged)."""
    return ("SettlementFinalized", {"task_id": task_id, "round": round_, "outcome": outcome,
                                    "payout_root": "0x" + "ef" * 32, "total_paid": total_paid,
                                    "final_at": final_at})  # fmt: skip


def challenged(task_id: int, round_: int, who: str) -> tuple[str, dict]:
    return ("SettlementChallenged", {"task_id": task_id, "round": round_, "challenger": who,
                                     "commitment": "0x" + "c0" * 32})  # fmt: skip


def evidence_revealed(task_id: int, round_: int, who: str) -> tuple[str, dict]:
    return ("EvidenceRevealed", {"task_id": task_id, "round": round_, "challenger": who,
                                 "evidence_cid": f"bafyevidence{round_}"})  # fmt: skip


def corrected(task_id: int, round_: int, report_cid: str, total_paid: int) -> tuple[str, dict]:
    return ("SettlementCorrected", {"task_id": task_id, "round": round_,
                                    "new_global_cid": f"bafyfixed{round_ + 1}",
                                    "report_cid": report_cid, "payout_root": "0x" + "fa" * 32,
                                    "total_paid": total_paid, "arbiter": ARBITER})  # fmt: skip


def rejected(task_id: int, round_: int) -> tuple[str, dict]:
    return ("ChallengeRejected", {"task_id": task_id, "round": round_, "arbiter": ARBITER})


def bond_forfeited(task_id: int, round_: int, amount: int, to_requester: int) -> tuple[str, dict]:
    return ("AggregatorBondForfeited", {"task_id": task_id, "round": round_, "amount": amount,
                                        "to_requester": to_requester})  # fmt: skip


def challenger_paid(task_id: int, round_: int, who: str, amount: int) -> tuple[str, dict]:
    return ("ChallengerPaid", {"task_id": task_id, "round": round_, "challenger": who,
                               "amount": amount})  # fmt: skip


def task_ended(task_id: int, reason: int = 0, ended_at: int = 900) -> tuple[str, dict]:
    return ("TaskEnded", {"task_id": task_id, "reason": reason, "ended_at": ended_at})


def claimed(task_id: int, who: str, round_: int, amount: int) -> tuple[str, dict]:
    """Claimed: one event per round claimed."""
    return ("Claimed", {"task_id": task_id, "account": who, "round": round_, "amount": amount})
