"""`fedmarket audit`, `fedmarket challenge`, `fedmarket resolve`: check the ledger and dispute it."""

from __future__ import annotations

import csv
import json
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
        for key in ("mismatches", "noise"):
            r[key] = [_finding_json(f) for f in r[key]]
    data["mismatches"] = [_finding_json(f) for f in data["mismatches"]]
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
@json_option('One object: {"task_id", "ok", "rounds", "mismatches", "payouts"}.')
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

    Exit code 0 when everything matches, 1 on any mismatch or unavailable artifact.
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
    echo(f"audit of task {result.task_id}")
    echo(f"{'round':>5}  {'status':<11} {'accuracy':>8} {'paid':>14} {'noise':>5}")
    for r in result.rounds:
        acc = f"{r.accuracy:.3f}" if r.accuracy is not None else "-"
        echo(
            f"{r.round:>5}  {status(r.status, 11)} {acc:>8} {format_amount(r.total_paid):>14} "
            f"{len(r.noise):>5}"
        )
    for m in result.mismatches:
        where = f"round {m.round}: " if m.round is not None else ""
        amount = _is_amount_field(m.field)
        echo(
            f"{status('MISMATCH')} {where}{m.field}: expected {_shown(m.expected, amount)}, "
            f"found {_shown(m.found, amount)} ({m.reason})"
        )
    echo(status("OK") if result.ok else status(f"FAILED: {len(result.mismatches)} mismatch(es)"))


#: Columns of the ledger CSV; amounts come as ``<name>_units`` (exact) and ``<name>`` (decimal).
CSV_FIELDS = [
    "task_id", "round", "participant", "status", "reason", "value",
    "payout_units", "payout", "cumulative_units", "cumulative", "decimals", "report_cid",
]  # fmt: skip


def write_ledger_csv(
    client: MarketplaceClient, result: AuditResult, store: ContentStore, path: Path
) -> None:
    """One row per (round, participant): status, value, payout, cumulative — from the reports.

    Amounts are exact (base units and decimal value, see :mod:`marketplace.units`); the
    contribution value is a float shown to 8 significant digits.
    """
    from marketplace.protocol.round_report import RoundReport

    rows: list[dict[str, Any]] = []
    for e in client.task_events(result.task_id):
        if e.name != "RoundSettled":
            continue
        try:
            report = RoundReport.from_json(store.cat_bytes(e.args["report_cid"]))
        except Exception as exc:  # an unavailable report is an audit finding already
            raise ConfigError(f"cannot export round {e.args['round']}: {exc}") from exc
        values = report.contributions()
        for sub in report.submissions:
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
                    **amount_columns(
                        "cumulative", report.cumulative_payouts.get(sub.participant, 0)
                    ),
                    "decimals": TOKEN_DECIMALS,
                    "report_cid": e.args["report_cid"],
                }
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)


@click.command()
@task_option
@round_option
@key_option("The challenger's keystore (posts the bond).")
@validation_option(required=False)
@click.option("--force", is_flag=True, help="Challenge even if the audit finds nothing.")
@rpc_url_option
@json_option('One object: {"task_id", "round", "challenger", "bond", "evidence_cid", "findings"}.')
def challenge(
    task_id: int,
    round_: int,
    key: str,
    validation_path: str | None,
    force: bool,
    rpc_url: str | None,
    as_json: bool,
) -> None:
    """Challenge a settlement, with this audit's findings (on IPFS) as evidence.

    Checked first, before the audit runs: the round exists, is settled and still in its
    challenge window, and the signer is not the aggregator and holds the bond.
    """
    from marketplace.roles.disputes import check_challengeable

    settings = Settings.from_env()
    client = make_client(settings, key=key, rpc_url=rpc_url)
    bond = check_challengeable(client, task_id, round_)
    result, store = run_audit(client, task_id, validation_path, DEFAULT_TOLERANCE)
    findings = [m for m in result.mismatches if m.round == round_]
    if not findings and not force:
        raise ConfigError(
            f"the audit finds nothing wrong with round {round_} of task {task_id}",
            hint=f"use --force to challenge anyway (you may lose your bond of "
            f"{format_amount(bond)})",
        )
    evidence = {
        "task_id": task_id,
        "round": round_,
        "audit": result.to_dict(),
        "findings": [f.to_dict() for f in findings],
    }
    check_challengeable(client, task_id, round_)  # the window may have closed while auditing
    cid = store.add(json.dumps(evidence, sort_keys=True).encode()).cid
    client.challenge(task_id, round_, cid)
    if as_json:
        emit_json({"task_id": task_id, "round": round_, "challenger": client.address,
                   "bond": amount_json(bond), "evidence_cid": cid,
                   "findings": len(findings)})  # fmt: skip
    else:
        echo(
            f"challenged round {round_} of task {task_id} with a bond of {format_amount(bond)}; "
            f"{len(findings)} finding(s) as evidence {cid}"
        )


@click.command()
@task_option
@round_option
@click.option(
    "--upheld/--rejected",
    required=True,
    help="Upheld voids the settlement; rejected makes it final.",
)
@key_option("The requester's or arbiter's keystore.")
@rpc_url_option
@json_option('One object: {"task_id", "round", "upheld", "bonds"}.')
def resolve(
    task_id: int, round_: int, upheld: bool, key: str, rpc_url: str | None, as_json: bool
) -> None:
    """Resolve a challenge on a round (requester or arbiter)."""
    from marketplace.roles.disputes import check_resolvable

    client = make_client(Settings.from_env(), key=key, rpc_url=rpc_url)
    bonds = check_resolvable(client, task_id, round_)
    client.resolve(task_id, round_, upheld)
    if as_json:
        emit_json({"task_id": task_id, "round": round_, "upheld": upheld,
                   "bonds": amount_json(bonds)})  # fmt: skip
        return
    to = "the challenger" if upheld else "the aggregator"
    outcome = "upheld: the settlement is void" if upheld else "rejected: the settlement is final"
    echo(f"round {round_} of task {task_id}: challenge {outcome}; {format_amount(bonds)} of "
         f"bonds credited to {to}")  # fmt: skip
