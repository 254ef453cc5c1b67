"""Signing and sending transactions with a local key: nonce, fees, receipts, decoded reverts.

Keys never leave this process and are never logged: only the account address is shown.
Every transaction is estimated first, so a revert is reported (decoded into a named
:class:`~marketplace.errors.ContractRevert`) before anything is broadcast.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, cast

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError, TimeExhausted
from web3.types import TxParams

from marketplace.chain.reverts import RevertDecoder, named_revert, revert_data_from_exception
from marketplace.errors import ChainError, ContractRevert


@dataclass(frozen=True)
class TxReceipt:
    """The parts of a receipt the rest of the code uses."""

    tx_hash: str
    block_number: int
    gas_used: int
    logs: list[Any]
    raw: Any = field(repr=False)


@dataclass
class GasLog:
    """Gas used per function name, in call order (for benchmarks and reports)."""

    entries: list[tuple[str, int]] = field(default_factory=list)

    def record(self, name: str, gas: int) -> None:
        self.entries.append((name, gas))

    def last(self, name: str) -> int:
        for fn, gas in reversed(self.entries):
            if fn == name:
                return gas
        raise KeyError(name)


class Transactor:
    """Sends transactions from one local account, serialising nonces within the process."""

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount,
        decoder: RevertDecoder,
        *,
        receipt_timeout: float = 120.0,
        gas_log: GasLog | None = None,
    ) -> None:
        self.w3 = w3
        self.account = account
        self.decoder = decoder
        self.receipt_timeout = receipt_timeout
        self.gas_log = gas_log if gas_log is not None else GasLog()
        self._lock = threading.Lock()
        self._chain_id: int | None = None
        self._next_nonce: int | None = None

    @property
    def address(self) -> str:
        return str(self.account.address)

    def transact(self, call: ContractFunction, *, name: str | None = None) -> TxReceipt:
        """Estimate, sign, send and await ``call``; raise ContractRevert on any revert."""
        label = name or call.fn_name
        with self._lock:
            base = cast(TxParams, {"from": self.address, "chainId": self.chain_id})
            try:
                gas = call.estimate_gas(base)
            except (ContractLogicError, ValueError) as exc:
                raise self._revert(exc, label) from None
            tx = dict(
                call.build_transaction(
                    cast(
                        TxParams,
                        {
                            **base,
                            "gas": int(gas * 1.25) + 10_000,
                            "nonce": self._nonce(),
                            **self._fees(),
                        },
                    )
                )
            )
            receipt = self._send(tx, label)
        self.gas_log.record(label, receipt.gas_used)
        return receipt

    def deploy(self, abi: list[dict[str, Any]], bytecode: str, *args: Any) -> tuple[str, TxReceipt]:
        """Deploy a contract; returns (address, receipt)."""
        factory: type[Contract] = self.w3.eth.contract(abi=abi, bytecode=bytecode)
        constructor = factory.constructor(*args)
        with self._lock:
            base = cast(TxParams, {"from": self.address, "chainId": self.chain_id})
            try:
                gas = constructor.estimate_gas(base)
            except (ContractLogicError, ValueError) as exc:
                raise self._revert(exc, "constructor") from None
            tx = constructor.build_transaction(
                {**base, "gas": int(gas * 1.2) + 50_000, "nonce": self._nonce(), **self._fees()}
            )
            receipt = self._send(tx, "deploy")
        address = receipt.raw["contractAddress"]
        if not address:
            raise ChainError("deployment produced no contract address")
        self.gas_log.record("deploy", receipt.gas_used)
        return str(address), receipt

    def call(self, call: ContractFunction, *, name: str | None = None) -> Any:
        """Run a view call from this account, decoding reverts."""
        try:
            return call.call({"from": self.address})
        except (ContractLogicError, ValueError) as exc:
            raise self._revert(exc, name or call.fn_name) from None

    # -- internals -----------------------------------------------------------------------

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    def _nonce(self) -> int:
        """The next nonce: read from the chain once, then counted here (one sender per key).

        After any failed send the count is dropped and read again, so a transaction sent by
        another process with the same key costs at most one retry, never a stuck nonce.
        """
        if self._next_nonce is None:
            self._next_nonce = int(
                self.w3.eth.get_transaction_count(self.account.address, "pending")
            )
        return self._next_nonce

    def _fees(self) -> dict[str, int]:
        block = self.w3.eth.get_block("latest")
        base_fee = block.get("baseFeePerGas")
        if base_fee is None:  # pre-London chains
            return {"gasPrice": int(self.w3.eth.gas_price)}
        tip = 1_000_000_000
        return {"maxFeePerGas": int(base_fee) * 2 + tip, "maxPriorityFeePerGas": tip}

    def _send(self, tx: dict[str, Any], label: str) -> TxReceipt:
        signed = self.account.sign_transaction(tx)
        try:
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except Exception:
            self._next_nonce = None  # e.g. "nonce too low": re-read on the next transaction
            raise
        self._next_nonce = int(tx["nonce"]) + 1
        try:
            raw = self.w3.eth.wait_for_transaction_receipt(
                tx_hash, timeout=self.receipt_timeout, poll_latency=0.05
            )
        except TimeExhausted as exc:
            raise ChainError(
                f"{label}: transaction {tx_hash.hex()} not mined within {self.receipt_timeout:.0f}s",
                hint="check that the chain is mining; the transaction may still land",
            ) from exc
        if raw["status"] != 1:
            raise self._replay_revert(tx, raw, label)
        return TxReceipt(
            tx_hash="0x" + bytes(raw["transactionHash"]).hex(),
            block_number=int(raw["blockNumber"]),
            gas_used=int(raw["gasUsed"]),
            logs=list(raw["logs"]),
            raw=raw,
        )

    def _replay_revert(self, tx: dict[str, Any], raw: Any, label: str) -> ContractRevert:
        """A mined transaction failed: replay it as a call at its block to learn why."""
        call_tx = {k: tx[k] for k in ("from", "to", "data", "value") if k in tx}
        try:
            self.w3.eth.call(call_tx, raw["blockNumber"] - 1)  # type: ignore[arg-type]
        except Exception as exc:
            return self._revert(exc, label)
        return named_revert("Reverted", [], [], (), label)

    def _revert(self, exc: BaseException, label: str) -> ContractRevert:
        data = revert_data_from_exception(exc)
        if data is None:
            message = " ".join(str(exc).split())  # node messages may span lines
            return named_revert("Error", ["string"], ["message"], (message,), label)
        return self.decoder.decode(data, function=label)
