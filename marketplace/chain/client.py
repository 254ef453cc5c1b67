"""`MarketplaceClient`: typed wrappers for every Marketplace call, with decoded reverts.

Reads need no key; writes need a local account (a decrypted keystore). Calls that move tokens
into the contract approve exactly the amount first: createTask (the escrow), join (the stake),
openRound (the aggregator's bond, when the task holds none from it) and challenge (the
challenger's bond). Gas per call is recorded in ``client.gas_log``.
"""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from marketplace.chain.contracts import (
    abi,
    marketplace_contract,
    revert_decoder,
    token_contract,
)
from marketplace.chain.events import ChainEvent, EventReader
from marketplace.chain.structs import (
    ChallengeInfo,
    ChallengeState,
    ParticipantRound,
    Phase,
    RoundClaim,
    RoundInfo,
    TaskInfo,
    TaskParams,
    struct_to_dict,
)
from marketplace.chain.transactor import GasLog, Transactor, TxReceipt
from marketplace.errors import ChainError, ConfigError
from marketplace.units import format_amount


class MarketplaceClient:
    """One account's view of the Marketplace and its token on one chain."""

    def __init__(
        self,
        w3: Web3,
        marketplace: str,
        token: str | None = None,
        account: LocalAccount | None = None,
        *,
        gas_log: GasLog | None = None,
    ) -> None:
        self.w3 = w3
        self.market: Contract = marketplace_contract(w3, marketplace)
        token_address = token or str(self.market.functions.token().call())
        self.token: Contract = token_contract(w3, token_address)
        self.account = account
        self.gas_log = gas_log if gas_log is not None else GasLog()
        self._tx: Transactor | None = None
        if account is not None:
            self._tx = Transactor(w3, account, revert_decoder(), gas_log=self.gas_log)
        self.events = EventReader(w3, marketplace, abi("Marketplace"))

    # -- identity ------------------------------------------------------------------------

    @property
    def address(self) -> str:
        if self.account is None:
            raise ConfigError("this command needs an account (--key)")
        return str(self.account.address)

    def with_account(self, account: LocalAccount) -> MarketplaceClient:
        """The same contracts, acting as ``account`` (shares the gas log)."""
        return MarketplaceClient(
            self.w3, self.market.address, self.token.address, account, gas_log=self.gas_log
        )

    @property
    def tx(self) -> Transactor:
        if self._tx is None:
            raise ConfigError("this command needs an account (--key)")
        return self._tx

    # -- reads ---------------------------------------------------------------------------

    def task_count(self) -> int:
        return int(self.market.functions.taskCount().call())

    def task(self, task_id: int) -> TaskInfo:
        return TaskInfo(self._struct("getTask", task_id))

    def round(self, task_id: int, round_: int) -> RoundInfo:
        return RoundInfo(self._struct("getRound", task_id, round_))

    def phase(self, task_id: int) -> Phase:
        return Phase(int(self.market.functions.phase(task_id).call()))

    def participant(self, task_id: int, account: str) -> dict[str, Any]:
        return self._struct("participantOf", task_id, Web3.to_checksum_address(account))

    def participant_round(self, task_id: int, round_: int, account: str) -> ParticipantRound:
        """``account``'s commitment in ``round_`` and whether it revealed, was slashed, claimed."""
        commitment, revealed, slashed, claimed = self.market.functions.participantRoundOf(
            task_id, round_, Web3.to_checksum_address(account)
        ).call()
        return ParticipantRound(bytes(commitment), bool(revealed), bool(slashed), bool(claimed))

    def challenge_of(self, task_id: int, round_: int, account: str) -> ChallengeInfo:
        """``account``'s challenge of the settlement of ``round_`` (state NONE when none)."""
        commitment, state = self.market.functions.challengeOf(
            task_id, round_, Web3.to_checksum_address(account)
        ).call()
        return ChallengeInfo(bytes(commitment), ChallengeState(int(state)))

    def evidence_commitment_for(
        self, task_id: int, round_: int, evidence_cid: str, challenger: str, salt: bytes
    ) -> bytes:
        """The contract's own evidence commitment (tests compare it with the Python one)."""
        return bytes(
            self.market.functions.evidenceCommitmentFor(
                task_id, round_, evidence_cid, Web3.to_checksum_address(challenger), salt
            ).call()
        )

    def min_window(self) -> int:
        """The shortest window (seconds) this marketplace accepts for any task."""
        return int(self.market.functions.minWindow().call())

    def credits(self, account: str) -> int:
        return int(self.market.functions.credits(Web3.to_checksum_address(account)).call())

    def balance(self, account: str | None = None) -> int:
        who = Web3.to_checksum_address(account or self.address)
        return int(self.token.functions.balanceOf(who).call())

    def chain_time(self) -> int:
        """Timestamp of the latest block (deadlines are compared against block time)."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def task_events(self, task_id: int, from_block: int = 0) -> list[ChainEvent]:
        return self.events.fetch(from_block, task_id=task_id)

    # -- writes --------------------------------------------------------------------------

    def approve(self, amount: int) -> TxReceipt | None:
        """Approve the marketplace to pull ``amount`` (skipped when already allowed)."""
        allowance = int(self.token.functions.allowance(self.address, self.market.address).call())
        if allowance >= amount:
            return None
        return self.tx.transact(self.token.functions.approve(self.market.address, amount))

    def create_task(self, params: TaskParams) -> int:
        """Escrow the budget and create the task; returns its id."""
        self._require_balance(params.escrow, "the task's budget")
        self.approve(params.escrow)
        receipt = self.tx.transact(self.market.functions.createTask(params.as_tuple()))
        for event in self.events_in(receipt):
            if event.name == "TaskCreated":
                return int(event.args["task_id"])
        raise ChainError("createTask succeeded but emitted no TaskCreated event")

    def cancel(self, task_id: int) -> TxReceipt:
        return self.tx.transact(self.market.functions.cancel(task_id))

    def join(self, task_id: int, stake: int) -> TxReceipt:
        self._require_balance(stake, "the stake")
        self.approve(stake)
        return self.tx.transact(self.market.functions.join(task_id, stake))

    def open_round(self, task_id: int, global_model_cid: str) -> TxReceipt:
        """Open the next round; posts the aggregator's bond first when the task holds none."""
        task = self.task(task_id)
        if not task.aggregator_bond_held:
            bond = int(task.settle_bond)
            self._require_balance(bond, "the aggregator's bond")
            self.approve(bond)
        return self.tx.transact(self.market.functions.openRound(task_id, global_model_cid))

    def commit(self, task_id: int, commitment: bytes) -> TxReceipt:
        return self.tx.transact(self.market.functions.commit(task_id, commitment))

    def reveal(
        self, task_id: int, cid: str, sha256: bytes, num_samples: int, salt: bytes
    ) -> TxReceipt:
        return self.tx.transact(
            self.market.functions.reveal(task_id, cid, sha256, num_samples, salt)
        )

    def settle(
        self,
        task_id: int,
        new_global_cid: str,
        report_cid: str,
        payout_root: bytes,
        total_paid: int,
    ) -> TxReceipt:
        """Settle the open round: this round's payout root and total (no bond: posted at open)."""
        return self.tx.transact(
            self.market.functions.settle(
                task_id, new_global_cid, report_cid, payout_root, total_paid
            )
        )

    def challenge(self, task_id: int, round_: int, evidence_commitment: bytes) -> TxReceipt:
        """Dispute a settlement with a bond and a commitment to the evidence's CID."""
        bond = int(self.task(task_id).settle_bond)
        self._require_balance(bond, "the challenge bond")
        self.approve(bond)
        return self.tx.transact(
            self.market.functions.challenge(task_id, round_, evidence_commitment)
        )

    def reveal_evidence(
        self, task_id: int, round_: int, evidence_cid: str, salt: bytes
    ) -> TxReceipt:
        """Open this challenger's evidence commitment (after the challenge window)."""
        return self.tx.transact(
            self.market.functions.revealEvidence(task_id, round_, evidence_cid, salt)
        )

    def reject(self, task_id: int, round_: int) -> TxReceipt:
        """Arbiter: the challenges fail, the settlement stands (final at once)."""
        return self.tx.transact(self.market.functions.reject(task_id, round_))

    def uphold(
        self,
        task_id: int,
        round_: int,
        new_global_cid: str,
        report_cid: str,
        payout_root: bytes,
        total_paid: int,
    ) -> TxReceipt:
        """Arbiter: the challenges succeed; this corrected settlement replaces the original."""
        return self.tx.transact(
            self.market.functions.uphold(
                task_id, round_, new_global_cid, report_cid, payout_root, total_paid
            )
        )

    def collect_challenge(self, task_id: int, round_: int) -> TxReceipt:
        """A revealed challenger of a final round takes its bond (and share) back."""
        return self.tx.transact(self.market.functions.collectChallenge(task_id, round_))

    def finalize(self, task_id: int) -> TxReceipt:
        return self.tx.transact(self.market.functions.finalize(task_id))

    def slash(self, task_id: int, round_: int, participant: str) -> TxReceipt:
        return self.tx.transact(
            self.market.functions.slash(task_id, round_, Web3.to_checksum_address(participant))
        )

    def wind_down(self, task_id: int) -> TxReceipt:
        return self.tx.transact(self.market.functions.windDown(task_id))

    def claim(self, task_id: int, claims: list[RoundClaim]) -> TxReceipt:
        """Collect this account's payouts of any number of final rounds in one transaction."""
        return self.tx.transact(
            self.market.functions.claim(task_id, [c.as_tuple() for c in claims])
        )

    def withdraw_stake(self, task_id: int) -> TxReceipt:
        return self.tx.transact(self.market.functions.withdrawStake(task_id))

    def refund(self, task_id: int) -> TxReceipt:
        return self.tx.transact(self.market.functions.refund(task_id))

    def publish_validation(self, task_id: int, cid: str) -> TxReceipt:
        """Requester: publish the validation set's CID so anyone can audit every round."""
        return self.tx.transact(self.market.functions.publishValidation(task_id, cid))

    def withdraw_credit(self) -> TxReceipt:
        return self.tx.transact(self.market.functions.withdrawCredit())

    # -- internals -----------------------------------------------------------------------

    def _struct(self, fn_name: str, *args: Any) -> dict[str, Any]:
        fn = getattr(self.market.functions, fn_name)(*args)
        value = fn.call()
        return struct_to_dict(fn.abi["outputs"], value)

    def events_in(self, receipt: TxReceipt) -> list[ChainEvent]:
        """The Marketplace events a transaction emitted, decoded."""
        events = []
        for log in receipt.logs:
            if Web3.to_checksum_address(log["address"]) != self.market.address:
                continue
            event = self.events.decode(log)
            if event is not None:
                events.append(event)
        return events

    def _require_balance(self, amount: int, what: str) -> None:
        have = self.balance()
        if have < amount:
            raise ChainError(
                f"{self.address} holds {format_amount(have)} but {what} needs "
                f"{format_amount(amount)}",
                hint="fund the account; on the devnet: `fedmarket account fund NAME`",
            )
