"""The audit core: replay a task's ledger from chain events and IPFS, recompute, compare.

Used by `fedmarket audit`, `fedmarket challenge` and the service. For every settled round it
rebuilds the round's inputs from events, fetches every artifact (verifying hashes), recomputes
the aggregate, the valuation (redoing the utilities), the integer payouts and the round's
Merkle root with the same code the coordinator runs, and compares each with the round's
effective settlement: the arbiter's corrected one where a challenge was upheld (the original
settlement of such a round is reported as superseded information, not as a failure), else the
aggregator's. It then reconciles tokens against the contract's counters.

Two kinds of difference are kept apart: float noise in utilities or values within
``tolerance`` (reported as *noise*, not a failure: different CPUs may round differently) and
everything else — a different CID, root, payout, status or input — which is a *mismatch*.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from marketplace.chain.client import MarketplaceClient
from marketplace.errors import BackendUnavailable, ConfigError, ContentNotFound, FedmarketError
from marketplace.protocol.ledger import Ledger, RoundLedger
from marketplace.protocol.payouts import round_tree
from marketplace.protocol.report_diff import Tolerances, diff
from marketplace.protocol.round_compute import (
    NeedsValidation,
    RoundOutcome,
    Validation,
    carried_evidence,
    compute_round,
    inputs_from_ledger,
)
from marketplace.protocol.round_report import RoundReport
from marketplace.protocol.task_spec import TaskSpec
from marketplace.protocol.tolerances import DEFAULT_TOLERANCE
from marketplace.storage import ContentStore
from valuation.errors import ValuationError
from valuation.recompute import AuditorInputs, Status, recompute
from valuation.report import InputDigests, ValuationReport


@dataclass(frozen=True)
class Finding:
    """One difference: where, what was expected (recomputed), what was found (published)."""

    round: int | None
    field: str
    expected: Any
    found: Any
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {k: _jsonable(v) for k, v in asdict(self).items()}


class AuditLevel(StrEnum):
    """How much an audit could check.

    ``public`` needs only the chain and the content store and runs at any time, inside a
    challenge window too: screening (hashes, shapes, norms, copies, replays), the aggregate's
    CID, payees among the accepted revealers, totals within the budget, the report against its
    Merkle root, every report field that needs no validation data, and token conservation.
    ``full`` adds what needs the validation set: utilities, values, payouts and accuracy.
    """

    PUBLIC = "public"
    FULL = "full"


#: What the other level would add, for the output.
LEVEL_NOTES = {
    AuditLevel.PUBLIC: "the full audit (once the validation set is published, or with "
    "--validation FILE) also recomputes utilities, values, payouts and accuracy",
    AuditLevel.FULL: "every check ran, including utilities, values, payouts and accuracy",
}


class RoundAuditStatus(StrEnum):
    """What the audit concludes about one round."""

    OK = "ok"  # the effective settlement matches the recomputation
    MISMATCH = "mismatch"  # it does not
    UNAVAILABLE = "unavailable"  # it cannot be recomputed (artifacts or validation missing)
    CORRECTED = "corrected"  # the arbiter's correction replaced a settlement and matches
    CHALLENGED = "challenged"  # matches, but a challenge is pending
    UNSETTLED = "unsettled"  # not settled yet
    INHERITED = "inherited"  # consistent with an earlier round's published (wrong) state


@dataclass
class RoundAudit:
    round: int
    status: RoundAuditStatus = RoundAuditStatus.OK
    outcome: str = ""  # how the round became final (Outcome.label), "" while it is not
    accuracy: float | None = None
    total_paid: int = 0
    mismatches: list[Finding] = field(default_factory=list)
    noise: list[Finding] = field(default_factory=list)
    superseded: list[Finding] = field(default_factory=list)  # the replaced original settlement
    #: differences that follow from an earlier mismatched round: this round's own computation
    #: is consistent with the state published before it (not failures of this round)
    inherited: list[Finding] = field(default_factory=list)
    #: checks that could not run because data could not be fetched (never a mismatch)
    unavailable: list[Finding] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "status": str(self.status),
            "outcome": self.outcome,
            "accuracy": self.accuracy,
            "total_paid": str(self.total_paid),
            "mismatches": [m.to_dict() for m in self.mismatches],
            "noise": [n.to_dict() for n in self.noise],
            "superseded": [f.to_dict() for f in self.superseded],
            "inherited": [f.to_dict() for f in self.inherited],
            "unavailable": [f.to_dict() for f in self.unavailable],
        }


@dataclass
class AuditResult:
    task_id: int
    rounds: list[RoundAudit] = field(default_factory=list)
    ledger_findings: list[Finding] = field(default_factory=list)
    payouts: list[dict[str, Any]] = field(default_factory=list)
    tolerance: float = DEFAULT_TOLERANCE
    level: AuditLevel = AuditLevel.FULL

    @property
    def mismatches(self) -> list[Finding]:
        return [m for r in self.rounds for m in r.mismatches] + self.ledger_findings

    @property
    def unavailable(self) -> list[Finding]:
        """Checks that could not run (data unavailable): not findings against anyone."""
        return [u for r in self.rounds for u in r.unavailable]

    @property
    def ok(self) -> bool:
        """Everything checked matched and nothing was left unchecked."""
        return not self.mismatches and not self.unavailable

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "ok": self.ok,
            "level": str(self.level),
            "other_level": LEVEL_NOTES[self.level],
            "tolerance": self.tolerance,
            "rounds": [r.to_dict() for r in self.rounds],
            "mismatches": [m.to_dict() for m in self.mismatches],
            "unavailable": [u.to_dict() for u in self.unavailable],
            "payouts": self.payouts,
        }


def audit_task(
    client: MarketplaceClient,
    store: ContentStore,
    task_id: int,
    *,
    validation: Validation | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> AuditResult:
    """Recompute and check every round and the token totals of ``task_id``."""
    ledger = Ledger.from_events(task_id, client.task_events(task_id))
    if not ledger.params:
        raise ConfigError(f"task {task_id} does not exist on this marketplace")
    result = AuditResult(task_id=task_id, tolerance=tolerance)
    spec = _fetch_spec(store, ledger, result)
    if validation is None and ledger.validation_cid is not None:
        validation = _published_validation(store, ledger, spec, result)
    elif validation is not None:
        check_validation(validation, ledger)
    result.level = AuditLevel.FULL if validation is not None else AuditLevel.PUBLIC
    entitled: dict[int, dict[str, int]] = {}  # round -> recomputed payouts of its final settlement
    evidence: dict[str, Any] | None = None  # the valuation state as this audit recomputes it
    broken_before = False  # an earlier round's published valuation state differs from ours
    for r in sorted(ledger.rounds):
        rl = ledger.rounds[r]
        ra = RoundAudit(round=r, outcome=rl.outcome.label if rl.final else "")
        result.rounds.append(ra)
        effective = rl.effective
        if effective is None:
            ra.status = RoundAuditStatus.UNSETTLED
            continue
        ra.total_paid = int(effective["total_paid"])
        if spec is None:
            ra.status = RoundAuditStatus.UNAVAILABLE
            continue
        if validation is None:
            published = _public_round(client, store, ledger, rl, spec, effective, ra)
            if published is not None and rl.final:
                entitled[r] = {a.lower(): v for a, v in published.round_payouts.items()}
            if ra.mismatches and ra.status in (RoundAuditStatus.OK, RoundAuditStatus.UNAVAILABLE):
                ra.status = RoundAuditStatus.MISMATCH
            continue
        outcome = _recompute(client, store, ledger, rl, spec, validation, evidence, ra)
        if outcome is None:
            continue
        _compare_round(store, rl.round, effective, outcome, ra, tolerance, validation)
        ra.accuracy = outcome.accuracy
        if ra.mismatches and broken_before:
            _inherited(client, store, ledger, rl, spec, validation, effective, ra, tolerance)
        broken_before = broken_before or ra.status in (
            RoundAuditStatus.MISMATCH,
            RoundAuditStatus.INHERITED,
        )
        if rl.corrected and rl.settlement is not None:
            # The aggregator's settlement was replaced: what was wrong with it is information.
            original = RoundAudit(round=r)
            _compare_round(store, r, rl.settlement, outcome, original, tolerance, validation)
            ra.superseded = original.mismatches
            if ra.status is RoundAuditStatus.OK:
                ra.status = RoundAuditStatus.CORRECTED
        elif rl.challengers and not rl.final and ra.status is RoundAuditStatus.OK:
            ra.status = RoundAuditStatus.CHALLENGED
        if rl.final:
            entitled[r] = {a.lower(): v for a, v in outcome.report.round_payouts.items()}
        evidence = outcome.evidence
    _reconcile(client, ledger, entitled, result)
    claimed: dict[str, int] = {}
    for c in ledger.claims:
        claimed[c["account"].lower()] = claimed.get(c["account"].lower(), 0) + c["amount"]
    totals: dict[str, int] = {}
    for payouts in entitled.values():
        for account, amount in payouts.items():
            totals[account] = totals.get(account, 0) + amount
    result.payouts = [
        {"account": a, "entitled": str(v), "claimed": str(claimed.get(a, 0))}
        for a, v in sorted(totals.items())
    ]
    return result


# -- steps --------------------------------------------------------------------------------


def check_validation(validation: Validation, ledger: Ledger) -> None:
    """A validation set given by hand must be the one the task committed to on-chain (its
    sha256), checked before any use: an aggregator's own file would make its own valuation pass.
    """
    from marketplace.protocol.dataset import Dataset, dataset_sha256

    committed = str(ledger.params["validation_sha256"]).lower().removeprefix("0x")
    if not isinstance(validation, Dataset):
        return
    digest = dataset_sha256(validation)
    if digest != committed:
        raise ConfigError(
            f"this validation set is not the one task {ledger.task_id} committed to: its sha256 "
            f"is {digest}, the task committed to {committed}",
            hint="use the requester's validation file, or wait until it is published",
        )


def _fetch_spec(store: ContentStore, ledger: Ledger, result: AuditResult) -> TaskSpec | None:
    cid = str(ledger.params["spec_cid"])
    try:
        return TaskSpec.from_json(store.cat_bytes(cid))
    except FedmarketError as exc:
        result.ledger_findings.append(
            Finding(None, "spec_cid", cid, None, f"task spec unavailable: {exc}")
        )
        return None


def _published_validation(
    store: ContentStore, ledger: Ledger, spec: TaskSpec | None, result: AuditResult
) -> Validation | None:
    from marketplace.protocol.dataset import dataset_from_bytes, dataset_sha256

    if ledger.validation_cid is None:
        result.ledger_findings.append(
            Finding(
                None,
                "validation",
                ledger.params.get("validation_sha256"),
                None,
                "the validation set has not been published yet; pass --validation FILE",
            )
        )
        return None
    try:
        ds = dataset_from_bytes(store.cat_bytes(ledger.validation_cid))
    except (FedmarketError, ValueError) as exc:
        result.ledger_findings.append(
            Finding(
                None,
                "validation",
                ledger.validation_cid,
                None,
                f"validation set unavailable: {exc}",
            )
        )
        return None
    committed = str(ledger.params["validation_sha256"]).removeprefix("0x")
    if dataset_sha256(ds) != committed:
        result.ledger_findings.append(
            Finding(
                None, "validation_sha256", committed, dataset_sha256(ds), "published set differs"
            )
        )
        return None
    return ds


#: Report fields only the full audit (with validation data) can recompute.
FULL_ONLY_PATHS = (
    "valuation", "round_payouts", "payout_root", "total_paid", "accuracy",
    "metrics.validation_loss", "metrics.payout_unit", "metrics.aggregation.losses",
)  # fmt: skip


def _public_round(
    client: MarketplaceClient,
    store: ContentStore,
    ledger: Ledger,
    rl: RoundLedger,
    spec: TaskSpec,
    effective: dict[str, Any],
    ra: RoundAudit,
) -> RoundReport | None:
    """The public checks of one settled round (no validation data); returns the published
    report when it could be read."""
    r = rl.round
    try:
        published = RoundReport.from_json(store.cat_bytes(str(effective["report_cid"])))
    except (FedmarketError, KeyError) as exc:
        _cannot_check(
            ra, Finding(r, "report_cid", effective.get("report_cid"), None, f"report: {exc}"), exc
        )
        return None
    payouts = published.round_payouts
    accepted = {s.participant.lower() for s in published.submissions if s.status == "accepted"}
    checks = [
        ("report.total_paid", sum(payouts.values()), published.total_paid,
         "the report's payouts do not add up to its total"),
        ("total_paid", published.total_paid, int(effective["total_paid"]),
         "the settled total is not the report's"),
        ("report.round_payouts", round_tree(published).root_hex,
         str(effective.get("payout_root", "")).lower(),
         "the published payouts do not hash to the settled root"),
        ("report.new_global_cid", published.new_global_cid,
         str(effective.get("new_global_cid", "")), "the settled model is not the report's"),
    ]  # fmt: skip
    for name, expected, found, reason in checks:
        if expected != found:
            ra.mismatches.append(Finding(r, name, expected, found, reason))
    if published.total_paid > int(ledger.params["round_budget"]):
        ra.mismatches.append(
            Finding(
                r,
                "report.total_paid",
                int(ledger.params["round_budget"]),
                published.total_paid,
                "pays more than the round's budget",
            )
        )
    strangers = sorted(a for a in payouts if a.lower() not in accepted)
    if strangers:
        ra.mismatches.append(
            Finding(
                r,
                "report.round_payouts",
                sorted(accepted),
                strangers,
                "pays accounts that are not accepted revealers of the round",
            )
        )
    try:
        inputs = inputs_from_ledger(
            client.w3, ledger, r, spec, marketplace=client.market.address,
            previous_evidence=None,
        )  # fmt: skip
        screened = compute_round(inputs, store, None, publish=False)
    except NeedsValidation:
        return published  # the aggregate needs the validation set: the full audit checks it
    except FedmarketError as exc:
        reason = f"cannot screen the round: {exc.user_message()}"
        _cannot_check(ra, Finding(r, "artifacts", "fetchable", None, reason), exc)
        return published
    for d in diff(_as_json(screened.report), _as_json(published),
                  keyed={"submissions": "participant"}):  # fmt: skip
        if d.path.startswith(FULL_ONLY_PATHS):
            continue
        ra.mismatches.append(
            Finding(r, f"report.{d.path}", d.expected, d.found, _public_reason(d.path))
        )
    return published


def _as_json(report: RoundReport) -> Any:
    """The report as its canonical JSON reads back (enums as strings, amounts as strings)."""
    return json.loads(report.to_json())


def _cannot_check(ra: RoundAudit, finding: Finding, exc: BaseException) -> None:
    """A check that could not run: data nobody can fetch (content store or gateway down, a blob
    withheld) is *unavailable*, never a mismatch (no accusation without evidence); content that
    was fetched but is malformed or does not hash to its CID is a *mismatch*."""
    if isinstance(exc, ContentNotFound | BackendUnavailable):
        ra.unavailable.append(finding)
        if ra.status is RoundAuditStatus.OK:
            ra.status = RoundAuditStatus.UNAVAILABLE
    else:
        ra.mismatches.append(finding)
        ra.status = RoundAuditStatus.MISMATCH


def _public_reason(path: str) -> str:
    if path.startswith("submissions"):
        return "screening differs from the recomputation (who was accepted, and why not)"
    if path == "new_global_cid":
        return "the aggregate of the accepted updates is another model"
    return "differs from recomputation"


def _inherited(
    client: MarketplaceClient,
    store: ContentStore,
    ledger: Ledger,
    rl: RoundLedger,
    spec: TaskSpec,
    validation: Validation,
    effective: dict[str, Any],
    ra: RoundAudit,
    tolerance: float,
) -> None:
    """After a mismatched round, tell this round's own faults from inherited ones.

    The round is recomputed once more from the valuation state the earlier (wrong) reports
    published; if that reproduces it exactly, its differences follow from the earlier round
    and it is marked ``inherited`` instead of being accused in the same words.
    """
    try:
        published_state = carried_evidence(ledger, store, rl.round)
    except FedmarketError:
        return  # the earlier reports cannot be read: the differences stay this round's
    alt_audit = RoundAudit(round=rl.round)
    alt = _recompute(client, store, ledger, rl, spec, validation, published_state, alt_audit)
    if alt is None:
        return
    _compare_round(store, rl.round, effective, alt, alt_audit, tolerance, validation)
    if alt_audit.mismatches:
        return
    ra.inherited, ra.mismatches = ra.mismatches, []
    ra.status = RoundAuditStatus.INHERITED


def _recompute(
    client: MarketplaceClient,
    store: ContentStore,
    ledger: Ledger,
    rl: RoundLedger,
    spec: TaskSpec,
    validation: Validation,
    evidence: dict[str, Any] | None,
    ra: RoundAudit,
) -> RoundOutcome | None:
    try:
        inputs = inputs_from_ledger(
            client.w3, ledger, rl.round, spec, marketplace=client.market.address,
            previous_evidence=evidence,
        )  # fmt: skip
        return compute_round(inputs, store, validation, publish=False)
    except FedmarketError as exc:
        reason = f"cannot recompute the round: {exc.user_message()}"
        _cannot_check(ra, Finding(rl.round, "artifacts", "fetchable", None, reason), exc)
        return None


def _compare_round(
    store: ContentStore,
    r: int,
    settled: dict[str, Any],
    outcome: RoundOutcome,
    ra: RoundAudit,
    tolerance: float,
    validation: Validation,
) -> None:
    """Compare one settlement of round ``r`` (and its published report) with the recomputation."""
    expected_root = "0x" + outcome.payout_root.hex()
    checks = [
        ("new_global_cid", outcome.new_global_cid, settled.get("new_global_cid")),
        ("payout_root", expected_root, str(settled.get("payout_root", "")).lower()),
        ("total_paid", outcome.total_paid, settled.get("total_paid")),
    ]
    for name, expected, found in checks:
        if expected != found:
            ra.mismatches.append(Finding(r, name, expected, found, "settled value differs"))
    try:  # the settled model must be retrievable: the next round (and users) start from it
        store.cat_bytes(str(settled.get("new_global_cid")))
    except FedmarketError as exc:
        reason = f"settled model: {exc}"
        _cannot_check(
            ra, Finding(r, "new_global_cid", "retrievable", settled.get("new_global_cid"), reason),
            exc,
        )  # fmt: skip
    try:
        published = RoundReport.from_json(store.cat_bytes(settled["report_cid"]))
    except (FedmarketError, KeyError) as exc:
        _cannot_check(
            ra, Finding(r, "report_cid", settled.get("report_cid"), None, f"report: {exc}"), exc
        )
        return
    _compare_reports(r, outcome.report, published, ra, tolerance)
    _check_valuation(r, outcome, published, ra, validation)
    _compare_whole_report(r, outcome.report, published, ra, tolerance)
    tree_root = round_tree(published).root_hex
    if tree_root != str(settled.get("payout_root", "")).lower():
        ra.mismatches.append(
            Finding(
                r,
                "report.round_payouts",
                tree_root,
                settled.get("payout_root"),
                "the published payouts do not hash to the settled root",
            )
        )
    if outcome.report_cid != settled.get("report_cid") and not ra.mismatches:
        ra.noise.append(
            Finding(
                r,
                "report_cid",
                outcome.report_cid,
                settled.get("report_cid"),
                "report bytes differ only by float noise",
            )
        )
    if ra.mismatches and ra.status in (RoundAuditStatus.OK, RoundAuditStatus.UNAVAILABLE):
        ra.status = RoundAuditStatus.MISMATCH


def _compare_reports(
    r: int, expected: RoundReport, found: RoundReport, ra: RoundAudit, tol: float
) -> None:
    exact_fields = (
        "global_model_cid",
        "new_global_cid",
        "seed",
        "aggregator",
        "round_budget",
        "round_payouts",
        "payout_root",
        "total_paid",
        "previous_report_cid",
        "spec_cid",
    )
    for name in exact_fields:
        e, f = getattr(expected, name), getattr(found, name)
        if e != f:
            ra.mismatches.append(Finding(r, f"report.{name}", e, f, "differs from recomputation"))
    exp_subs = {s.participant: s for s in expected.submissions}
    for sub in found.submissions:
        e_sub = exp_subs.get(sub.participant)
        if e_sub is None or (e_sub.status, e_sub.cid) != (sub.status, sub.cid):
            ra.mismatches.append(
                Finding(
                    r,
                    f"report.submissions[{sub.participant}]",
                    None if e_sub is None else f"{e_sub.status} {e_sub.reason}".strip(),
                    f"{sub.status} {sub.reason}".strip(),
                    "submission status differs",
                )
            )
    if len(found.submissions) != len(expected.submissions):
        ra.mismatches.append(
            Finding(
                r,
                "report.submissions",
                len(expected.submissions),
                len(found.submissions),
                "number of submissions differs",
            )
        )
    if expected.accuracy is not None and found.accuracy is not None:
        _compare_floats(r, "report.accuracy", [expected.accuracy], [found.accuracy], ra, tol)


#: Float tolerances of the whole-report comparison, by path (see report_diff): measured scores
#: within the audit's tolerance; the valuation block loosely (its own recomputation,
#: ``_check_valuation``, judges its floats with the valuation package's tolerances).
VALUATION_FLOAT_TOLERANCE = 1e-6


def _compare_whole_report(
    r: int, expected: RoundReport, found: RoundReport, ra: RoundAudit, tol: float
) -> None:
    """Every field of the published report against the recomputed one (issue: nothing outside
    a short list may be forged): exact except floats within tolerance, which are noise.

    Differences under a field already reported (e.g. ``report.round_payouts``) are not
    repeated; everything else — a relabelled rejection reason, a false detail, a different
    task id, seed source, aggregator parameter, sample count or digest — is a mismatch.
    """
    tolerances = Tolerances(
        (
            ("accuracy", tol),
            ("metrics.validation_loss", tol),
            ("valuation.*", max(tol, VALUATION_FLOAT_TOLERANCE)),
        )
    )
    differences = diff(
        _as_json(expected), _as_json(found), tolerances=tolerances,
        keyed={"submissions": "participant"},
    )  # fmt: skip
    reported = [f.field for f in ra.mismatches]
    for d in differences:
        name = f"report.{d.path}"
        if d.is_noise:
            ra.noise.append(
                Finding(r, name, d.expected, d.found, f"float noise within {d.tolerance:g}")
            )
            continue
        if any(name == f or name.startswith((f + ".", f + "[")) for f in reported):
            continue
        if name.startswith("report.valuation") and any(
            f.startswith("report.valuation") for f in reported
        ):
            continue
        ra.mismatches.append(Finding(r, name, d.expected, d.found, "differs from recomputation"))


def _check_valuation(
    r: int, outcome: RoundOutcome, published: RoundReport, ra: RoundAudit, validation: Validation
) -> None:
    """Redo the published valuation from its own inputs with `valuation.recompute.recompute`.

    The recomputation uses the updates this audit fetched and verified itself, so a report
    that names other inputs, other utilities, other values or other payouts than its inputs
    give is a mismatch; float noise within the valuation package's tolerances is noise.
    """
    if published.valuation is None:
        if outcome.report.valuation is not None:
            ra.mismatches.append(
                Finding(
                    r,
                    "report.valuation",
                    "a valuation",
                    None,
                    "the round had accepted updates but no valuation",
                )
            )
        return
    try:
        report = ValuationReport.from_dict(published.valuation)
    except (ValuationError, KeyError, TypeError, ValueError) as exc:
        ra.mismatches.append(
            Finding(r, "report.valuation", "a valid valuation report", None, f"unreadable: {exc}")
        )
        return
    missing = [p for p in report.participants if p not in outcome.accepted_updates]
    if missing:
        ra.mismatches.append(
            Finding(
                r,
                "report.valuation.participants",
                sorted(outcome.accepted_updates),
                list(report.participants),
                "values players whose updates are not valid",
            )
        )
        return
    expected = outcome.report.valuation or {}
    digests = InputDigests.from_dict(expected["digests"]) if expected else None
    own = None
    if expected:  # what this audit derived itself: the carried state, weights, commit ranks
        mine = ValuationReport.from_dict(expected)
        own = AuditorInputs(
            previous_state=mine.previous_state,
            coefficients=mine.coefficients,
            normalizers=mine.normalizers,
            priority=mine.priority,
            evaluated=mine,  # scored from the same fetched updates: an honest round is scored once
        )
    checked = recompute(
        report,
        [outcome.accepted_updates[p] for p in report.participants],
        outcome.prev_params,
        (np.asarray(validation.X), np.asarray(validation.y)),
        digests=digests,
        own=own,
    )
    for check in checked.checks:
        if check.status is Status.OK:
            continue
        finding = Finding(
            r,
            f"report.valuation.{check.field}",
            check.found,
            check.expected,
            check.detail or f"max |diff| {check.max_abs_diff:.3g}",
        )
        (ra.mismatches if check.status is Status.MISMATCH else ra.noise).append(finding)


def _compare_floats(
    r: int, name: str, expected: list[float], found: list[float], ra: RoundAudit, tol: float
) -> None:
    if len(expected) != len(found):
        ra.mismatches.append(Finding(r, name, expected, found, "different lengths"))
        return
    for i, (e, f) in enumerate(zip(expected, found, strict=True)):
        label = name if len(expected) == 1 else f"{name}[{i}]"
        if e == f:
            continue
        if not (math.isfinite(e) and math.isfinite(f)) or abs(e - f) > tol:
            ra.mismatches.append(Finding(r, label, e, f, f"differs by more than {tol:g}"))
        else:
            ra.noise.append(Finding(r, label, e, f, f"float noise within {tol:g}"))


def _reconcile(
    client: MarketplaceClient,
    ledger: Ledger,
    entitled: dict[int, dict[str, int]],
    result: AuditResult,
) -> None:
    """Tokens: events against the contract's counters, and claims against recomputed payouts."""
    info = client.task(ledger.task_id)
    pairs = [
        ("totals.allocated", ledger.allocated, int(info.total_allocated)),
        ("totals.claimed", ledger.total_claimed, int(info.total_claimed)),
        ("totals.slashed", ledger.total_slashed, int(info.total_slashed)),
        ("totals.forfeited", ledger.total_forfeited, int(info.total_forfeited)),
        ("totals.refunded", ledger.total_refunded, int(info.total_refunded)),
    ]
    for name, from_events, on_chain in pairs:
        if from_events != on_chain:
            result.ledger_findings.append(
                Finding(
                    None,
                    name,
                    from_events,
                    on_chain,
                    "events do not add up to the contract's total",
                )
            )
    held = 0
    for account in ledger.stakes:
        held += int(client.participant(ledger.task_id, account)["stake"])
    if ledger.total_staked != ledger.total_withdrawn + ledger.total_slashed + held:
        result.ledger_findings.append(
            Finding(
                None,
                "stakes",
                ledger.total_staked,
                ledger.total_withdrawn + ledger.total_slashed + held,
                "staked != returned + slashed + held",
            )
        )
    escrow_left = (
        ledger.escrow
        + ledger.total_slashed
        + ledger.total_forfeited
        - ledger.total_claimed
        - ledger.total_refunded
    )
    if escrow_left < 0:
        result.ledger_findings.append(
            Finding(None, "escrow", ">= 0", escrow_left, "more paid out than escrowed")
        )
    for claim in ledger.claims:  # each claim against what that round's recomputation pays
        payouts = entitled.get(int(claim["round"]))
        if payouts is None:
            continue  # not recomputed (unavailable): no accusation without evidence
        account = str(claim["account"]).lower()
        if claim["amount"] > payouts.get(account, 0):
            result.ledger_findings.append(
                Finding(
                    claim["round"],
                    f"claims[{account}]",
                    payouts.get(account, 0),
                    claim["amount"],
                    "claimed more than the recomputed payout of the round",
                )
            )


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, int) and abs(value) > 2**53:
        return str(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
