"""`fedmarket audit`, `fedmarket challenge`, `fedmarket resolve`: check the ledger and dispute it."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from fedmarket.context import make_client
from fedmarket.options import (
    json_option,
    key_option,
    round_option,
    rpc_url_option,
    task_option,
    validation_option,
)
from fedmarket.ui import echo, emit_json, spinner, status
from marketplace.errors import ConfigError
from marketplace.protocol.tolerances import DEFAULT_TOLERANCE
from marketplace.settings import Settings
from marketplace.storage import ContentStore, open_store
from marketplace.units import TOKEN_DECIMALS, amount_columns, amount_json, format_amount

if TYPE_CHECKING:
    from marketplace.chain.client import MarketplaceClient
    from marketplace.roles.audit import AuditResult

#: Audit finding fields whose values are token amounts (``report.`` prefix stripped).
AMOUNT_FIELDS = frozenset(
    {"total_paid", "round_payouts", "cumulative_payouts", "round_budget", "totals.allocated",
     "totals.claimed", "totals.slashed", "totals.refunded", "stakes", "escrow"}
)  # fmt: skip


def _is_amount_field(name: str) -> bool:
    return name.removeprefix("report.") in AMOUNT_FIELDS or name.startswith("claims[")


def _shown(value: Any, amount: bool) -> str:
    """A finding's value for people: amounts as FMT, floats to 6 significant digits."""
    if isinstance(value, dict):
        inner = ", ".join(f"{k}: {_shown(v, amount)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_shown(v, amount) for v in value) + "]"
    if amount and (isinstance(value, int) or (isinstance(value, str) and value.isdigit())):
        return format_amount(int(value))
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)


def _json_value(value: Any, amount: bool) -> Any:
    if isinstance(value, dict):
        return {k: _json_value(v, amount) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v, amount) for v in value]
    if amount and (isinstance(value, int) or (isinstance(value, str) and value.isdigit())):
        return amount_json(int(value))
    return value


def audit_json(result: AuditResult) -> dict[str, Any]:
    """The audit as JSON, amounts as ``{"units", "value", "decimals"}``."""
    data = result.to_dict()
    for r in data["rounds"]:
        r["total_paid"] = amount_json(int(r["total_paid"]))
        for key in ("mismatches", "noise", "inherited", "unavailable", "superseded"):
            r[key] = [_finding_json(f) for f in r[key]]
    data["mismatches"] = [_finding_json(f) for f in data["mismatches"]]
    data["unavailable"] = [_finding_json(f) for f in data["unavailable"]]
    for p in data["payouts"]:
        p["entitled"] = amount_json(int(p["entitled"]))
        p["claimed"] = amount_json(int(p["claimed"]))
    return data


def _finding_json(finding: dict[str, Any]) -> dict[str, Any]:
    amount = _is_amount_field(str(finding["field"]))
    return {**finding, "expected": _json_value(finding["expected"], amount),
            "found": _json_value(finding["found"], amount)}  # fmt: skip


def _validation(path: str | None) -> Any:
    if path is None:
        return None
    from marketplace.protocol.dataset import load_npz

    return load_npz(path)


def run_audit(
    client: MarketplaceClient, task_id: int, validation_path: str | None, tolerance: float
) -> tuple[AuditResult, ContentStore]:
    """The audit of ``task_id`` with a spinner on the terminal (it takes a while)."""
    from marketplace.roles.audit import audit_task
    from marketplace.roles.funds import existing_task

    existing_task(client, task_id)
    store = open_store(Settings.from_env())
    validation = _validation(validation_path)
    with spinner(f"auditing task {task_id}: recomputing every round"):
        result = audit_task(client, store, task_id, validation=validation, tolerance=tolerance)
    return result, store


@click.command()
@task_option
@validation_option(
    required=False, help="The validation set (.npz), if the requester has not published it yet."
)
@click.option(
    "--tolerance",
    default=DEFAULT_TOLERANCE,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Float noise tolerated in utilities and values (reported, not failed).",
)
@json_option(
    'One object: {"task_id", "ok", "level", "other_level", "rounds", "mismatches", '
    '"unavailable", "payouts"}.'
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Export the payout ledger (one row per round and participant).",
)
@rpc_url_option
def audit(
    task_id: int,
    validation_path: str | None,
    tolerance: float,
    as_json: bool,
    csv_path: str | None,
    rpc_url: str | None,
) -> None:
    """Recompute every round of a task from chain events and IPFS, and compare.

    Runs at the public level (chain and content store only: screening, the aggregate, payees,
    totals, roots, report fields) until the validation set is published or given with
    --validation, which must match the task's on-chain sha256; then at the full level
    (utilities, values, payouts, accuracy too).

    Exit code 0 when everything matches, 1 on any mismatch or when a check could not run
    (unavailable data is reported as such, never as a mismatch).
    """
    client = make_client(Settings.from_env(), rpc_url=rpc_url)
    result, store = run_audit(client, task_id, validation_path, tolerance)
    if csv_path:
        write_ledger_csv(client, result, store, Path(csv_path))
    if as_json:
        emit_json(audit_json(result))
    else:
        print_audit(result)
    if not result.ok:
        sys.exit(1)


def print_audit(result: AuditResult) -> None:
    from marketplace.roles.audit import LEVEL_NOTES

    echo(f"audit of task {result.task_id} ({result.level} level: {LEVEL_NOTES[result.level]})")
    echo(f"{'round':>5}  {'status':<11} {'outcome':<14} {'accuracy':>8} {'paid':>14} {'noise':>5}")
    for r in result.rounds:
        acc = f"{r.accuracy:.3f}" if r.accuracy is not None else "-"
        echo(
            f"{r.round:>5}  {status(r.status, 11)} {r.outcome or '-':<14} {acc:>8} "
            f"{format_amount(r.total_paid):>14} {len(r.noise):>5}"
        )
    for r in result.rounds:
        for f in r.superseded:
            amount = _is_amount_field(f.field)
            echo(
                f"superseded round {r.round}: the original settlement's {f.field} was "
                f"{_shown(f.found, amount)}, corrected to {_shown(f.expected, amount)}"
            )
    for r in result.rounds:
        if r.inherited:
            echo(
                f"inherited round {r.round}: {len(r.inherited)} difference(s) follow from an "
                "earlier round's published valuation state; this round's own computation is "
                "consistent with it"
            )
    for m in result.mismatches:
        where = f"round {m.round}: " if m.round is not None else ""
        amount = _is_amount_field(m.field)
        echo(
            f"{status('MISMATCH')} {where}{m.field}: expected {_shown(m.expected, amount)}, "
            f"found {_shown(m.found, amount)} ({m.reason})"
        )
    for u in result.unavailable:
        echo(f"{status('unavailable')} round {u.round}: {u.field}: {u.reason} (not checked)")
    if result.ok:
        echo(status("OK"))
    elif result.mismatches:
        echo(status(f"FAILED: {len(result.mismatches)} mismatch(es)"))
    else:
        echo(status(f"INCOMPLETE: {len(result.unavailable)} check(s) could not run"))


#: Columns of the ledger CSV; amounts come as ``<name>_units`` (exact) and ``<name>`` (decimal).
CSV_FIELDS = [
    "task_id", "round", "participant", "status", "reason", "value",
    "payout_units", "payout", "cumulative_units", "cumulative", "decimals", "report_cid",
]  # fmt: skip


def write_ledger_csv(
    client: MarketplaceClient, result: AuditResult, store: ContentStore, path: Path
) -> None:
    """One row per (round, participant): status, value, payout, cumulative — from each round's
    effective report (the arbiter's corrected one where a challenge was upheld).

    Amounts are exact (base units and decimal value, see :mod:`marketplace.units`); the
    contribution value is a float shown to 8 significant digits.
    """
    from marketplace.protocol.ledger import Ledger
    from marketplace.protocol.round_report import RoundReport

    rows: list[dict[str, Any]] = []
    cumulative: dict[str, int] = {}
    ledger = Ledger.from_events(result.task_id, client.task_events(result.task_id))
    for rl in ledger.settled_rounds():
        effective = rl.effective or {}
        try:
            report = RoundReport.from_json(store.cat_bytes(effective["report_cid"]))
        except Exception as exc:  # an unavailable report is an audit finding already
            raise ConfigError(f"cannot export round {rl.round}: {exc}") from exc
        values = report.contributions()
        for sub in report.submissions:
            cumulative[sub.participant] = cumulative.get(sub.participant, 0) + (
                report.round_payouts.get(sub.participant, 0)
            )
            value = values.get(sub.participant)
            rows.append(
                {
                    "task_id": result.task_id,
                    "round": report.round,
                    "participant": sub.participant,
                    "status": sub.status,
                    "reason": sub.reason,
                    "value": "" if value is None else f"{value:.8g}",
                    **amount_columns("payout", report.round_payouts.get(sub.participant, 0)),
                    **amount_columns("cumulative", cumulative[sub.participant]),
                    "decimals": TOKEN_DECIMALS,
                    "report_cid": effective["report_cid"],
                }
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


@click.group(invoke_without_command=True)
@click.option("--task", "task_id", type=int, default=None, help="The task's id.")
@click.option("--round", "round_", type=click.IntRange(min=1), default=None, help="The round.")
@click.option("--key", default=None, help="The challenger's keystore (posts the bond).")
@validation_option(required=False)
@click.option("--force", is_flag=True, help="Challenge even if the audit finds nothing.")
@click.option(
    "--no-wait",
    is_flag=True,
    help="File the challenge and exit; run the same command again after the challenge window "
    "to reveal the evidence.",
)
@rpc_url_option
@json_option('One object: {"task_id", "round", "challenger", "step", "evidence_cid", "bond"}.')
@click.pass_context
def challenge(
    ctx: click.Context,
    task_id: int | None,
    round_: int | None,
    key: str | None,
    validation_path: str | None,
    force: bool,
    no_wait: bool,
    rpc_url: str | None,
    as_json: bool,
) -> None:
    """Challenge a settlement with this audit's findings (stored in the content store) as
    evidence: post the bond with a commitment to the evidence, wait for the challenge window to
    close, then reveal it. Restart-safe: run again to continue. `challenge collect` takes the
    bond (and its share of the aggregator's) back once the arbiter upheld or stayed silent.

    Checked first, before the audit runs: the round exists and is settled, and the signer is
    neither the aggregator nor the arbiter.
    """
    if ctx.invoked_subcommand is not None:
        return
    if task_id is None or round_ is None or key is None:
        raise click.UsageError("--task, --round and --key are required")
    from marketplace.roles.disputes import (
        ChallengeStep,
        advance_challenge,
        check_challenger,
        evidence_bytes,
        settled_round,
    )

    settings = Settings.from_env()
    client = make_client(settings, key=key, rpc_url=rpc_url)
    task_info, _ = settled_round(client, task_id, round_)
    check_challenger(client, task_id, task_info)
    store = open_store(settings)
    mine = client.challenge_of(task_id, round_, client.address)

    def evidence() -> bytes:
        result, _ = run_audit(client, task_id, validation_path, DEFAULT_TOLERANCE)
        findings = [m.to_dict() for m in result.mismatches if m.round == round_]
        if not findings and not force and not mine.state:
            raise ConfigError(
                f"the audit finds nothing wrong with round {round_} of task {task_id}",
                hint="use --force to challenge anyway (you may lose your bond)",
            )
        return evidence_bytes(task_id, round_, findings)

    state = advance_challenge(
        client, store, task_id, round_, evidence, wait=not no_wait,
        log=(lambda _line: None) if as_json else echo,
    )  # fmt: skip
    if state.step is ChallengeStep.TOO_LATE:
        raise ConfigError(f"the evidence of round {round_} was not revealed in time")
    if as_json:
        emit_json(state.to_json())
    elif state.step is ChallengeStep.FILED:
        echo(
            f"challenge of round {round_} filed with a bond of {format_amount(state.bond)}; run "
            "this again after the challenge window to reveal the evidence"
        )


@challenge.command("collect")
@task_option
@round_option
@key_option("The challenger's keystore.")
@rpc_url_option
@json_option('One object: {"action", "task_id", "account", "amount", "rounds", "tx_hash"}.')
def challenge_collect(
    task_id: int, round_: int, key: str, rpc_url: str | None, as_json: bool
) -> None:
    """Take back the bond of a decided challenge (and a share of the aggregator's bond when it
    was upheld)."""
    from marketplace.roles.disputes import collect_challenge
    from marketplace.roles.funds import Moved

    client = make_client(Settings.from_env(), key=key, rpc_url=rpc_url)
    with spinner(f"collecting the challenge of round {round_} of task {task_id}"):
        amount, tx_hash = collect_challenge(client, task_id, round_)
    if as_json:
        moved = Moved("collect_challenge", client.address, amount, tx_hash, task_id, (round_,))
        emit_json(moved.to_json())
    else:
        echo(f"collected {format_amount(amount)} from the challenge of round {round_}")


@click.command()
@task_option
@round_option
@click.option(
    "--uphold/--reject",
    "upheld",
    required=True,
    help="--uphold: the challenge is right; the round is recomputed and the corrected "
    "settlement replaces the aggregator's. --reject: the settlement stands.",
)
@key_option("The arbiter's keystore.")
@validation_option(
    required=False,
    help="The validation set, to recompute the round (default: the published one).",
)
@click.option("--force", is_flag=True, help="Uphold even if the recomputation matches.")
@rpc_url_option
@json_option('One object: {"task_id", "round", "upheld", "total_paid", "report_cid"}.')
def resolve(
    task_id: int,
    round_: int,
    upheld: bool,
    key: str,
    validation_path: str | None,
    force: bool,
    rpc_url: str | None,
    as_json: bool,
) -> None:
    """Rule on the challenges of a round (the task's arbiter only)."""
    from marketplace.roles import disputes

    settings = Settings.from_env()
    client = make_client(settings, key=key, rpc_url=rpc_url)
    if not upheld:
        disputes.reject(client, task_id, round_)
        if as_json:
            emit_json({"task_id": task_id, "round": round_, "upheld": False})
        else:
            echo(f"round {round_}: challenges rejected; the settlement is final as settled")
        return
    store = open_store(settings)
    disputes.check_ruling(client, task_id, round_)
    validation = _validation(validation_path)
    if validation is None:
        validation = _published_validation(client, store, task_id)
    with spinner(f"recomputing round {round_} of task {task_id}"):
        outcome = disputes.uphold(client, store, task_id, round_, validation, force=force)
    if as_json:
        emit_json({"task_id": task_id, "round": round_, "upheld": True,
                   "total_paid": amount_json(outcome.total_paid),
                   "report_cid": outcome.report_cid})  # fmt: skip
        return
    echo(
        f"round {round_}: challenge upheld; corrected settlement pays "
        f"{format_amount(outcome.total_paid)}, report {outcome.report_cid}"
    )


def _published_validation(client: Any, store: ContentStore, task_id: int) -> Any:
    from marketplace.protocol.dataset import dataset_from_bytes, dataset_sha256
    from marketplace.protocol.ledger import Ledger

    ledger = Ledger.from_events(task_id, client.task_events(task_id))
    if ledger.validation_cid is None:
        raise ConfigError(
            f"the validation set of task {task_id} is not published",
            hint="pass --validation FILE",
        )
    ds = dataset_from_bytes(store.cat_bytes(ledger.validation_cid))
    committed = str(ledger.params["validation_sha256"]).removeprefix("0x")
    if dataset_sha256(ds) != committed:
        raise ConfigError(
            f"the published validation set of task {task_id} is not the committed one",
            hint=f"its sha256 is {dataset_sha256(ds)}, the task committed to {committed}",
        )
    return ds
