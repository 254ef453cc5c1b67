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
    click.echo(
        f"{'round':>5}  {'status':<11} {'outcome':<14} {'accuracy':>8} {'paid':>14} {'noise':>5}"
    )
    for r in result.rounds:
        acc = f"{r.accuracy:.3f}" if r.accuracy is not None else "-"
        click.echo(
            f"{r.round:>5}  {r.status:<11} {r.outcome or '-':<14} {acc:>8} "
            f"{from_units(r.total_paid):>14} {len(r.noise):>5}"
        )
    for r in result.rounds:
        for f in r.superseded:
            click.echo(
                f"superseded round {r.round}: the original settlement's {f.field} was "
                f"{f.found!r}, corrected to {f.expected!r}"
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
    """One row per (round, participant): status, value, payout, cumulative — from each round's
    effective report (the arbiter's corrected one where a challenge was upheld)."""
    from marketplace.protocol.ledger import Ledger
    from marketplace.protocol.round_report import RoundReport

    rows: list[dict[str, Any]] = []
    cumulative: dict[str, int] = {}
    settings = Settings.from_env()
    client = make_client(settings)
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
            rows.append(
                {
                    "task_id": result.task_id,
                    "round": report.round,
                    "participant": sub.participant,
                    "status": sub.status,
                    "reason": sub.reason,
                    "value": values.get(sub.participant, ""),
                    "payout": report.round_payouts.get(sub.participant, 0),
                    "cumulative": cumulative[sub.participant],
                    "report_cid": effective["report_cid"],
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


def _round_findings(task_id: int, round_: int, validation_path: str | None,
                    rpc_url: str | None) -> list[dict[str, Any]]:  # fmt: skip
    result, _ = run_audit(task_id, validation_path, DEFAULT_TOLERANCE, rpc_url)
    return [m.to_dict() for m in result.mismatches if m.round == round_]


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
) -> None:
    """Challenge a settlement with this audit's findings (stored in the content store) as
    evidence: post the bond with a commitment to the evidence, wait for the challenge window to
    close, then reveal it. Restart-safe: run again to continue. `challenge collect` takes the
    bond (and its share of the aggregator's) back once the arbiter upheld or stayed silent."""
    if ctx.invoked_subcommand is not None:
        return
    if task_id is None or round_ is None or key is None:
        raise click.UsageError("--task, --round and --key are required")
    from marketplace.roles.disputes import ChallengeStep, advance_challenge, evidence_bytes

    settings = Settings.from_env()
    client = make_client(settings, key=key, rpc_url=rpc_url)
    store = open_store(settings)
    mine = client.challenge_of(task_id, round_, client.address)

    def evidence() -> bytes:
        findings = _round_findings(task_id, round_, validation_path, rpc_url)
        if not findings and not force and not mine.state:
            raise ConfigError(
                f"the audit finds nothing wrong with round {round_}",
                hint="use --force to challenge anyway (you may lose your bond)",
            )
        return evidence_bytes(task_id, round_, findings)

    status = advance_challenge(
        client, store, task_id, round_, evidence, wait=not no_wait, log=click.echo
    )
    if status.step is ChallengeStep.FILED:
        click.echo(
            f"challenge of round {round_} filed; run this again after the challenge window "
            "to reveal the evidence"
        )
    elif status.step is ChallengeStep.TOO_LATE:
        raise ConfigError(f"the evidence of round {round_} was not revealed in time")


@challenge.command("collect")
@task_option
@round_option
@key_option("The challenger's keystore.")
@rpc_url_option
def challenge_collect(task_id: int, round_: int, key: str, rpc_url: str | None) -> None:
    """Take back the bond of a decided challenge (and a share of the aggregator's bond when it
    was upheld)."""
    from marketplace.roles.disputes import collect_challenge

    client = make_client(Settings.from_env(), key=key, rpc_url=rpc_url)
    amount, _ = collect_challenge(client, task_id, round_)
    click.echo(f"collected {from_units(amount)} FMT from the challenge of round {round_}")


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
def resolve(
    task_id: int,
    round_: int,
    upheld: bool,
    key: str,
    validation_path: str | None,
    force: bool,
    rpc_url: str | None,
) -> None:
    """Rule on the challenges of a round (the task's arbiter only)."""
    from marketplace.roles import disputes

    settings = Settings.from_env()
    client = make_client(settings, key=key, rpc_url=rpc_url)
    if not upheld:
        disputes.reject(client, task_id, round_)
        click.echo(f"round {round_}: challenges rejected; the settlement is final as settled")
        return
    store = open_store(settings)
    disputes.check_ruling(client, task_id, round_)
    validation = _validation(validation_path)
    if validation is None:
        validation = _published_validation(client, store, task_id)
    outcome = disputes.uphold(client, store, task_id, round_, validation, force=force)
    click.echo(
        f"round {round_}: challenge upheld; corrected settlement pays "
        f"{from_units(outcome.total_paid)} FMT, report {outcome.report_cid}"
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
            f"the published validation set of task {task_id} is not the committed one"
        )
    return ds
