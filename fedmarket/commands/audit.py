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
from marketplace.errors import ConfigError
from marketplace.protocol.tolerances import DEFAULT_TOLERANCE
from marketplace.settings import Settings
from marketplace.storage import ContentStore, open_store
from marketplace.units import from_units

if TYPE_CHECKING:
    from marketplace.roles.audit import AuditResult


def _validation(path: str | None) -> Any:
    if path is None:
        return None
    from marketplace.protocol.dataset import load_npz

    return load_npz(path)


def run_audit(
    task_id: int, validation_path: str | None, tolerance: float, rpc_url: str | None
) -> tuple[AuditResult, ContentStore]:
    from marketplace.roles.audit import audit_task

    settings = Settings.from_env()
    client = make_client(settings, rpc_url=rpc_url)
    store = open_store(settings)
    return audit_task(
        client, store, task_id, validation=_validation(validation_path), tolerance=tolerance
    ), store


@click.command()
@task_option
@validation_option(
    required=False, help="The validation set (.npz), if the requester has not published it yet."
)
@click.option(
    "--tolerance",
    default=DEFAULT_TOLERANCE,
    show_default=True,
    help="Float noise tolerated in utilities and values (reported, not failed).",
)
@json_option('One object: {"ok", "rounds", "mismatches"}.')
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False),
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
    result, store = run_audit(task_id, validation_path, tolerance, rpc_url)
    if csv_path:
        write_ledger_csv(result, store, Path(csv_path))
    if as_json:
        click.echo(json.dumps(result.to_dict()))
    else:
        print_audit(result)
    if not result.ok:
        sys.exit(1)


def print_audit(result: AuditResult) -> None:
    click.echo(f"audit of task {result.task_id}")
    click.echo(f"{'round':>5}  {'status':<11} {'accuracy':>8} {'paid':>14} {'noise':>5}")
    for r in result.rounds:
        acc = f"{r.accuracy:.3f}" if r.accuracy is not None else "-"
        click.echo(
            f"{r.round:>5}  {r.status:<11} {acc:>8} {from_units(r.total_paid):>14} "
            f"{len(r.noise):>5}"
        )
    for m in result.mismatches:
        where = f"round {m.round}: " if m.round is not None else ""
        click.echo(
            f"MISMATCH {where}{m.field}: expected {m.expected!r}, found {m.found!r} ({m.reason})"
        )
    click.secho(
        "OK" if result.ok else f"FAILED: {len(result.mismatches)} mismatch(es)",
        fg="green" if result.ok else "red",
    )


def write_ledger_csv(result: AuditResult, store: ContentStore, path: Path) -> None:
    """One row per (round, participant): status, value, payout, cumulative — from the reports."""
    from marketplace.protocol.round_report import RoundReport

    rows: list[dict[str, Any]] = []
    settings = Settings.from_env()
    client = make_client(settings)
    for e in client.task_events(result.task_id):
        if e.name != "RoundSettled":
            continue
        try:
            report = RoundReport.from_json(store.cat_bytes(e.args["report_cid"]))
        except Exception as exc:  # an unavailable report is an audit finding already
            raise ConfigError(f"cannot export round {e.args['round']}: {exc}") from exc
        values = report.contributions()
        for sub in report.submissions:
            rows.append(
                {
                    "task_id": result.task_id,
                    "round": report.round,
                    "participant": sub.participant,
                    "status": sub.status,
                    "reason": sub.reason,
                    "value": values.get(sub.participant, ""),
                    "payout": report.round_payouts.get(sub.participant, 0),
                    "cumulative": report.cumulative_payouts.get(sub.participant, 0),
                    "report_cid": e.args["report_cid"],
                }
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        fields = [
            "task_id",
            "round",
            "participant",
            "status",
            "reason",
            "value",
            "payout",
            "cumulative",
            "report_cid",
        ]
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


@click.command()
@task_option
@round_option
@key_option("The challenger's keystore (posts the bond).")
@validation_option(required=False)
@click.option("--force", is_flag=True, help="Challenge even if the audit finds nothing.")
@rpc_url_option
def challenge(
    task_id: int,
    round_: int,
    key: str,
    validation_path: str | None,
    force: bool,
    rpc_url: str | None,
) -> None:
    """Challenge a settlement, with this audit's findings (on IPFS) as evidence."""
    result, store = run_audit(task_id, validation_path, DEFAULT_TOLERANCE, rpc_url)
    findings = [m for m in result.mismatches if m.round == round_]
    if not findings and not force:
        raise ConfigError(
            f"the audit finds nothing wrong with round {round_}",
            hint="use --force to challenge anyway (you may lose your bond)",
        )
    evidence = {
        "task_id": task_id,
        "round": round_,
        "audit": result.to_dict(),
        "findings": [f.to_dict() for f in findings],
    }
    cid = store.add(json.dumps(evidence, sort_keys=True).encode()).cid
    client = make_client(Settings.from_env(), key=key, rpc_url=rpc_url)
    client.challenge(task_id, round_, cid)
    click.echo(f"challenged round {round_} of task {task_id}; evidence {cid}")


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
def resolve(task_id: int, round_: int, upheld: bool, key: str, rpc_url: str | None) -> None:
    """Resolve a challenge on a round (requester or arbiter)."""
    client = make_client(Settings.from_env(), key=key, rpc_url=rpc_url)
    client.resolve(task_id, round_, upheld)
    click.echo(
        f"round {round_}: challenge {'upheld (settlement voided)' if upheld else 'rejected'}"
    )
