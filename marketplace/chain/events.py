"""Reading the Marketplace's event log: the ledger is rebuilt from these, never from storage."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from eth_typing import ABIEvent
from eth_utils import event_abi_to_log_topic
from web3 import Web3

from marketplace.chain.structs import snake_case, struct_to_dict

#: Block span per eth_getLogs request (endpoints cap ranges; Anvil has no cap).
LOG_CHUNK = 5_000


@dataclass(frozen=True)
class ChainEvent:
    """One decoded event: its name, arguments (snake_case keys) and position in the chain."""

    name: str
    args: dict[str, Any]
    block_number: int
    tx_hash: str
    log_index: int

    @property
    def sort_key(self) -> tuple[int, int]:
        return (self.block_number, self.log_index)


class EventReader:
    """Decodes Marketplace logs by topic; filters by task id through the indexed first topic."""

    def __init__(self, w3: Web3, address: str, abi: list[dict[str, Any]]) -> None:
        self.w3 = w3
        self.address = Web3.to_checksum_address(address)
        self.contract = w3.eth.contract(address=self.address, abi=abi)
        self._by_topic: dict[bytes, dict[str, Any]] = {}
        for item in abi:
            if item.get("type") == "event":
                self._by_topic[bytes(event_abi_to_log_topic(cast(ABIEvent, item)))] = item

    def fetch(
        self, from_block: int, to_block: int | None = None, *, task_id: int | None = None
    ) -> list[ChainEvent]:
        """All Marketplace events in the range (inclusive), oldest first."""
        head = int(self.w3.eth.block_number) if to_block is None else to_block
        events: list[ChainEvent] = []
        for start in range(from_block, head + 1, LOG_CHUNK):
            end = min(start + LOG_CHUNK - 1, head)
            events.extend(self._fetch_range(start, end, task_id))
        events.sort(key=lambda e: e.sort_key)
        return events

    def _fetch_range(self, start: int, end: int, task_id: int | None) -> Iterator[ChainEvent]:
        params: dict[str, Any] = {"address": self.address, "fromBlock": start, "toBlock": end}
        if task_id is not None:  # every task event has the task id as its first indexed topic
            params["topics"] = [None, "0x" + task_id.to_bytes(32, "big").hex()]
        logs = self.w3.eth.get_logs(params)  # type: ignore[arg-type]
        for log in logs:
            event = self.decode(log)
            if event is None:
                continue
            if task_id is not None and event.args.get("task_id") != task_id:
                continue
            yield event

    def decode(self, log: Any) -> ChainEvent | None:
        topics = log["topics"]
        if not topics:
            return None
        item = self._by_topic.get(bytes(topics[0]))
        if item is None:
            return None
        decoded = getattr(self.contract.events, item["name"])().process_log(log)
        args = {}
        for inp in item["inputs"]:
            value = decoded["args"][inp["name"]]
            if inp["type"] == "tuple":
                value = struct_to_dict([inp], value)
            elif isinstance(value, bytes):
                value = "0x" + value.hex()
            args[snake_case(inp["name"])] = value
        return ChainEvent(
            name=item["name"],
            args=args,
            block_number=int(log["blockNumber"]),
            tx_hash="0x" + bytes(log["transactionHash"]).hex(),
            log_index=int(log["logIndex"]),
        )
