"""`fedmarket demo`: a whole marketplace on the devnet, as a first run."""

from __future__ import annotations

import json
import sys

import click

from fedmarket.options import json_option
from marketplace.settings import Settings

#: Three honest participants, one with half its labels flipped, one free-rider.
DEFAULT_BEHAVIOURS = ("honest", "honest", "honest", "label_noise:0.5", "free_rider")


@click.command()
@click.option(
    "--participants",
    "behaviours",
    default=",".join(DEFAULT_BEHAVIOURS),
    show_default=True,
    help="Comma-separated behaviours, one per participant.",
)
@click.option("--rounds", default=5, show_default=True)
@click.option("--keep-devnet", is_flag=True, help="Leave the chain running afterwards.")
@json_option()
def demo(behaviours: str, rounds: int, keep_devnet: bool, as_json: bool) -> None:
    """Run a whole marketplace on the devnet: task, participants, rounds, claims, audit."""
    from fedmarket.demo import DemoConfig, print_summary, run_demo

    cfg = DemoConfig(
        behaviours=tuple(b.strip() for b in behaviours.split(",") if b.strip()), rounds=rounds
    )
    log = (lambda m: click.echo(m, err=True)) if as_json else click.echo
    result = run_demo(Settings.from_env(), cfg, keep_devnet=keep_devnet, log=log)
    if as_json:
        click.echo(json.dumps(result.to_dict()))
    else:
        print_summary(result)
    if not result.audit_ok:
        sys.exit(1)
