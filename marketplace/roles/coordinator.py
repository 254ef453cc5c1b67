"""The coordinator (aggregator) loop: open rounds, wait out the windows, settle, finalize.

Opening round 1 posts the aggregator's bond (held by the task until it ends); settlements need
no bond. The coordinator keeps the protocol's deadlines: it opens each round within
``settleWindow`` of the previous round's final time and settles before the settle deadline;
a deadline it has already missed is reported (anyone may then wind the task down) instead of
sent as a doomed transaction. Challenges run their course without it: the challengers'
evidence, the arbiter's ruling, or the fallbacks when either is silent. After an upheld
challenge the next round starts from the arbiter's corrected model.

It is restart-safe because it keeps no state of its own: every decision is read back from the
chain (the task's phase and rounds) and from IPFS (earlier round reports), and every output is
a deterministic function of those. Killed between the reveal deadline and the settlement, a
restarted coordinator recomputes the very same report (same CIDs) and settles once; killed after
settling, it finds the round settled and moves on. The contract refuses a second settlement.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from marketplace.chain.client import MarketplaceClient
from marketplace.chain.structs import Phase, RoundStatus, TaskStatus
from marketplace.errors import ContractRevert, ProtocolError
from marketplace.notices import Log, Notice, Tokens
from marketplace.protocol.deadlines import open_deadline
from marketplace.protocol.ledger import Ledger
from marketplace.protocol.ledger_lookup import TaskFacts, task_facts
from marketplace.protocol.round_compute import (
    RoundInputs,
    RoundOutcome,
    Validation,
    compute_round,
    gather_inputs,
)
from marketplace.protocol.task_spec import TaskSpec
from marketplace.storage import ContentStore

#: Seconds past a deadline (in block time) before acting on it: the next block's timestamp
#: must be past the deadline for the contract to agree.
DEADLINE_MARGIN_S = 1


@dataclass
class CoordinatorSummary:
    """What the run did, for the CLI and the demo."""

    settled: dict[int, RoundOutcome] = field(default_factory=dict)
    slashed: list[tuple[int, str]] = field(default_factory=list)


class Coordinator:
    """Drives one task as its aggregator until the task ends."""

    def __init__(
        self,
        client: MarketplaceClient,
        store: ContentStore,
        task_id: int,
        validation: Validation,
        *,
        poll_interval: float = 0.25,
        slash_non_revealers: bool = True,
        log: Log = print,
        on_settled: Callable[[RoundOutcome], None] | None = None,
        compute: Callable[..., RoundOutcome] = compute_round,
        min_participants: int = 0,
    ) -> None:
        self.client = client
        self.store = store
        self.task_id = task_id
        self.validation = validation
        self.poll_interval = poll_interval
        self.slash_non_revealers = slash_non_revealers
        self.log = log
        self.on_settled = on_settled
        self.compute = compute  # the round computation (tests substitute a dishonest one)
        self.min_participants = min_participants  # joined before round 1 opens
        self._waiting_reported: int | None = None
        self.summary = CoordinatorSummary()
        self.facts: TaskFacts = task_facts(client, task_id)
        self.spec = TaskSpec.from_json(store.cat_bytes(self.facts.spec_cid))
        task = client.task(task_id)
        if str(task.aggregator).lower() != client.address.lower():
            raise ProtocolError(
                f"{client.address} is not the aggregator of task {task_id} ({task.aggregator})"
            )

    def run(self, *, timeout: float | None = None) -> CoordinatorSummary:
        """Work the task until it has ended (or ``timeout`` seconds pass)."""
        started = time.monotonic()
        while self.step():
            if timeout is not None and time.monotonic() - started > timeout:
                raise ProtocolError(f"coordinator gave up after {timeout:.0f}s")
            time.sleep(self.poll_interval)
        return self.summary

    def step(self) -> bool:
        """Act once on the current phase; False once the task has ended or was cancelled.

        Raises :class:`ProtocolError` when the aggregator has missed a deadline (the task can
        then only be wound down).
        """
        phase = self.client.phase(self.task_id)
        if phase in (Phase.CANCELLED, Phase.NONE):
            return False
        task = self.client.task(self.task_id)
        if phase == Phase.ENDED:
            if task.phase_status == TaskStatus.ACTIVE:  # the last settlement is due: make it
                self._try(lambda: self.client.finalize(self.task_id), "finalize")  # final
            return False
        round_ = int(task.last_round)
        now = self.client.chain_time()
        if phase in (Phase.CREATED, Phase.FINAL):
            deadline = open_deadline(self.client, self.task_id, task, now)
            if deadline is not None and now > deadline:
                raise self._missed(f"open round {round_ + 1}", deadline)
            if round_ == 0 and not self._enough_participants():
                return True
            self._open(round_ + 1)
            return True
        info = self.client.round(self.task_id, round_)
        if phase in (Phase.COMMIT, Phase.REVEAL, Phase.SETTLE):
            if now < int(info.reveal_deadline) + DEADLINE_MARGIN_S:
                return True
            if info.round_status == RoundStatus.OPEN:
                if now > int(info.settle_deadline):
                    raise self._missed(f"settle round {round_}", int(info.settle_deadline))
                self._settle(round_)
            return True
        # CHALLENGE, EVIDENCE, RULING: challengers, their evidence and the arbiter's ruling run
        # their course; each has a deadline after which the settlement is final without us.
        return True

    def _missed(self, what: str, deadline: int) -> ProtocolError:
        return ProtocolError(
            f"task {self.task_id}: too late to {what} (its deadline passed at block time "
            f"{deadline}); the task can only be wound down now",
            hint=f"anyone can end it with `fedmarket task wind-down {self.task_id}`",
        )

    # -- actions -------------------------------------------------------------------------

    def _enough_participants(self) -> bool:
        """Whether ``min_participants`` have joined; says so once per change while waiting."""
        if self.min_participants <= 0:
            return True
        events = self.client.task_events(self.task_id, self.facts.created_block)
        joined = sum(1 for e in events if e.name == "ParticipantJoined")
        if joined >= self.min_participants:
            return True
        if joined != self._waiting_reported:
            self._waiting_reported = joined
            self.log(Notice.of(
                "waiting_for_participants",
                "waiting for participants before opening round 1: {joined} of {needed} joined",
                task_id=self.task_id, joined=joined, needed=self.min_participants,
            ))  # fmt: skip
        return False

    def _open(self, round_: int) -> None:
        cid = self.current_global_cid()
        if self._try(lambda: self.client.open_round(self.task_id, cid), f"open round {round_}"):
            self.log(Notice.of(
                "round_opened", "round {round}: opened with global model {global_model_cid}",
                task_id=self.task_id, round=round_, global_model_cid=cid,
            ))  # fmt: skip

    def current_global_cid(self) -> str:
        """The model the next round starts from: the latest settlement's (the arbiter's
        corrected one where it upheld a challenge), else the task's initial model."""
        events = self.client.task_events(self.task_id, self.facts.created_block)
        ledger = Ledger.from_events(self.task_id, events)
        last = ledger.effective_before(max(ledger.rounds, default=0) + 1)
        if last is None or last.effective is None:
            return self.facts.initial_model_cid
        return str(last.effective["new_global_cid"])

    def _settle(self, round_: int) -> None:
        inputs: RoundInputs = gather_inputs(
            self.client, self.store, self.task_id, round_, self.facts, self.spec
        )
        outcome = self.compute(inputs, self.store, self.validation)
        try:
            self.client.settle(
                self.task_id,
                outcome.new_global_cid,
                outcome.report_cid,
                outcome.payout_root,
                outcome.total_paid,
            )
        except ContractRevert as exc:
            if self.client.round(self.task_id, round_).round_status != RoundStatus.OPEN:
                self.log(Notice.of(
                    "round_already_settled", "round {round}: already settled ({reason})",
                    task_id=self.task_id, round=round_, reason=str(exc), error=exc.error_name,
                ))  # fmt: skip
                return
            raise
        self.summary.settled[round_] = outcome
        accuracy = f"{outcome.accuracy:.3f}" if outcome.accuracy is not None else "n/a"
        self.log(Notice(
            "round_settled",
            f"round {round_}: settled, accuracy {accuracy}, paid "
            f"{Tokens(outcome.total_paid)}, report {outcome.report_cid}",
            {"task_id": self.task_id, "round": round_, "accuracy": outcome.accuracy,
             "total_paid": Tokens(outcome.total_paid), "report_cid": outcome.report_cid,
             "new_global_cid": outcome.new_global_cid},
        ))  # fmt: skip
        if self.on_settled is not None:
            self.on_settled(outcome)
        if self.slash_non_revealers:
            self._slash(round_)

    def _slash(self, round_: int) -> None:
        events = self.client.task_events(self.task_id, self.facts.created_block)
        committed = {
            e.args["participant"]
            for e in events
            if e.name == "Committed" and e.args["round"] == round_
        }
        revealed = {
            e.args["participant"]
            for e in events
            if e.name == "Revealed" and e.args["round"] == round_
        }
        already = {
            e.args["participant"]
            for e in events
            if e.name == "ParticipantSlashed" and e.args["round"] == round_
        }
        for participant in sorted(committed - revealed - already):
            if self._try(self._slasher(round_, participant), f"slash {participant}"):
                self.summary.slashed.append((round_, participant))
                self.log(Notice.of(
                    "participant_slashed",
                    "round {round}: slashed {participant} (committed, did not reveal)",
                    task_id=self.task_id, round=round_, participant=participant,
                ))  # fmt: skip

    def _slasher(self, round_: int, participant: str) -> Callable[[], object]:
        return lambda: self.client.slash(self.task_id, round_, participant)

    def _try(self, action: Callable[[], object], what: str) -> bool:
        """Run a transaction whose failure only means someone else (or time) got there first."""
        try:
            action()
            return True
        except ContractRevert as exc:
            self.log(Notice.of(
                "action_deferred", "{action}: not done ({reason}); will re-check",
                task_id=self.task_id, action=what, reason=str(exc), error=exc.error_name,
            ))  # fmt: skip
            return False
