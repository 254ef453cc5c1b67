"""`fedmarket task`: create a task (escrowing its budget) and browse the market."""

from __future__ import annotations

import json

import click

from fedmarket.context import make_client
from fedmarket.options import json_option, key_option, validation_option
from marketplace.protocol.task_spec import TaskSpec, TrainingConfig, ValuationConfig
from marketplace.settings import Settings
from marketplace.storage import open_store
from marketplace.units import from_units, to_units
from valuation.model_spec import FAMILIES, ModelSpec
from valuation.registry import METHOD_NAMES


@click.group()
def task() -> None:
    """Create tasks and inspect the market."""


def _valuation(method: str, settings: tuple[str, ...]) -> ValuationConfig:
    """The valuation policy from ``--valuation`` and ``--valuation-setting KEY=VALUE`` pairs."""
    fields: dict[str, object] = {"method": method}
    try:
        for item in settings:
            key, _, raw = item.partition("=")
            try:
                fields[key.strip()] = json.loads(raw)
            except json.JSONDecodeError:  # a bare word: a string setting such as fli
                fields[key.strip()] = raw.strip()
        return ValuationConfig.from_dict(fields)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--valuation-setting") from exc


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip()) if text else ()


@task.command("create")
@key_option("Requester's keystore (file, name or address).")
@validation_option(
    required=True,
    help="The private validation set (.npz with X, y); only its sha256 is published.",
)
@click.option("--aggregator", required=True, help="Address of the task's aggregator.")
@click.option("--name", default="digits classification", show_default=True)
@click.option("--model", type=click.Choice(FAMILIES), default="mlp", show_default=True)
@click.option("--hidden", default="64,64", show_default=True, help="Hidden layer widths.")
@click.option("--channels", default="8", show_default=True, help="Conv channels (cnn only).")
@click.option("--rounds", default=5, show_default=True)
@click.option("--round-budget", default="1000", show_default=True, help="Tokens per round.")
@click.option("--stake", default="10", show_default=True, help="Minimum stake in tokens.")
@click.option("--bond", default="1", show_default=True, help="Settlement/challenge bond in tokens.")
@click.option("--commit-window", default=10, show_default=True, help="Seconds.")
@click.option("--reveal-window", default=8, show_default=True, help="Seconds.")
@click.option("--settle-window", default=300, show_default=True, help="Seconds.")
@click.option("--challenge-window", default=3, show_default=True, help="Seconds.")
@click.option("--epochs", default=5, show_default=True, help="Local epochs per round.")
@click.option("--lr", default=0.1, show_default=True)
@click.option(
    "--optimizer",
    default="momentum",
    show_default=True,
    type=click.Choice(["sgd", "momentum", "adam"]),
)
@click.option(
    "--valuation",
    "method",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", *METHOD_NAMES]),
)
@click.option(
    "--aggregation",
    default="fedavg",
    show_default=True,
    type=click.Choice(["fedavg", "median", "trimmed_mean", "krum", "qffl"]),
)
@click.option(
    "--valuation-setting",
    "valuation_settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="A valuation policy field, e.g. cap=0.5, allocation=fli, clip_negative=false.",
)
@click.option("--slash-bps", default=1000, show_default=True)
@click.option("--max-samples", default=10_000, show_default=True)
@click.option("--seed", default=0, show_default=True, help="Seed of the initial model.")
@json_option()
def create(
    key: str,
    validation_path: str,
    aggregator: str,
    name: str,
    model: str,
    hidden: str,
    channels: str,
    rounds: int,
    round_budget: str,
    stake: str,
    bond: str,
    commit_window: int,
    reveal_window: int,
    settle_window: int,
    challenge_window: int,
    epochs: int,
    lr: float,
    optimizer: str,
    method: str,
    aggregation: str,
    valuation_settings: tuple[str, ...],
    slash_bps: int,
    max_samples: int,
    seed: int,
    as_json: bool,
) -> None:
    """Create a task: publish its spec and initial model, escrow rounds x round-budget."""
    from marketplace.protocol.dataset import dataset_sha256, load_npz
    from marketplace.roles.tasks import Windows, create_task

    settings = Settings.from_env()
    client = make_client(settings, key=key)
    store = open_store(settings)
    validation = load_npz(validation_path)
    input_shape = (1, 8, 8) if model == "cnn" else tuple(validation.X.shape[1:])
    model_spec = ModelSpec(
        family=model,  # type: ignore[arg-type]
        input_shape=input_shape,
        num_classes=validation.num_classes,
        hidden=() if model == "logreg" else _ints(hidden),
        channels=_ints(channels) if model == "cnn" else (),
    )
    spec = TaskSpec(
        name=name,
        model=model_spec,
        validation_sha256=dataset_sha256(validation),
        validation_size=len(validation),
        training=TrainingConfig(epochs=epochs, lr=lr, optimizer=optimizer),
        valuation=_valuation(method, valuation_settings),
        aggregator=aggregation,
    )
    created = create_task(
        client, store, spec, aggregator=aggregator, rounds=rounds,
        round_budget=to_units(round_budget), min_stake=to_units(stake),
        windows=Windows(commit_window, reveal_window, settle_window, challenge_window),
        settle_bond=to_units(bond), slash_bps=slash_bps, max_samples=max_samples, init_seed=seed,
    )  # fmt: skip
    if as_json:
        click.echo(
            json.dumps(
                {
                    "task_id": created.task_id,
                    "spec_cid": created.spec_cid,
                    "initial_model_cid": created.initial_model_cid,
                }
            )
        )
    else:
        click.echo(f"task {created.task_id} created; spec {created.spec_cid}")


@task.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include ended and cancelled tasks.")
@json_option()
def list_(show_all: bool, as_json: bool) -> None:
    """The market: tasks with budget, rounds, stake, participants and state."""
    from marketplace.roles.tasks import market

    rows = market(make_client(Settings.from_env()), open_only=not show_all)
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo("no open tasks (use --all to include ended ones)")
        return
    click.echo(f"{'id':>4}  {'phase':<9} {'round':>7} {'budget':>12} {'stake':>8} {'people':>6}")
    for r in rows:
        click.echo(
            f"{r['task_id']:>4}  {r['phase']:<9} {r['round']:>3}/{r['rounds']:<3} "
            f"{from_units(int(r['budget'])):>12} {from_units(int(r['min_stake'])):>8} "
            f"{r['participants']:>6}"
        )


@task.command("show")
@click.argument("task_id", type=int)
@json_option()
def show(task_id: int, as_json: bool) -> None:
    """One task: parameters, rounds and their settlements."""
    from marketplace.roles.tasks import show_task

    info = show_task(make_client(Settings.from_env()), task_id)
    if as_json:
        click.echo(json.dumps(info))
        return
    for k in ("task_id", "phase", "requester", "aggregator", "spec_cid", "participants"):
        click.echo(f"{k:<14} {info[k]}")
    click.echo(
        f"{'budget':<14} {from_units(int(info['budget']))} "
        f"({from_units(int(info['round_budget']))} x {info['rounds']} rounds)"
    )
    for r in info["rounds_detail"]:
        click.echo(
            f"  round {r['round']}: {r['status']:<10} reveals {r['reveals']:>3} "
            f"paid {from_units(int(r['total_paid']))}"
        )


@task.command("publish-validation")
@click.argument("task_id", type=int)
@key_option("The requester's keystore.")
@validation_option(required=True)
def publish_validation_cmd(task_id: int, key: str, validation_path: str) -> None:
    """Publish the task's validation set on IPFS (after the task, or for a challenge)."""
    from marketplace.protocol.dataset import load_npz
    from marketplace.roles.tasks import publish_validation

    settings = Settings.from_env()
    cid = publish_validation(
        make_client(settings, key=key), open_store(settings), task_id, load_npz(validation_path)
    )
    click.echo(f"validation set of task {task_id} published as {cid}")


__all__ = ["TaskSpec", "task"]
