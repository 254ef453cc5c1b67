"""`fedmarket serve`: run the ledger API and dashboard with uvicorn."""

from __future__ import annotations

import re
from pathlib import Path

import click

from fedmarket.options import rpc_url_option
from marketplace.errors import ConfigError
from marketplace.settings import Settings


def parse_validation(values: tuple[str, ...]) -> dict[int, Path]:
    """``TASK=FILE`` pairs (repeatable option) to a mapping; bad forms raise ConfigError."""
    out: dict[int, Path] = {}
    for value in values:
        match = re.fullmatch(r"(\d+)=(.+)", value)
        if match is None:
            raise ConfigError(f"--validation expects TASK=FILE, got {value!r}")
        path = Path(match.group(2)).expanduser()
        if not path.is_file():
            raise ConfigError(f"validation file not found: {path}")
        out[int(match.group(1))] = path
    return out


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@rpc_url_option
@click.option("--marketplace", default=None, help="Marketplace address (default: the devnet's).")
@click.option(
    "--validation",
    "validations",
    multiple=True,
    metavar="TASK=FILE",
    help="Validation set (.npz) for auditing TASK before it is published on-chain.",
)
@click.option("--rebuild", is_flag=True, help="Drop the index and re-sync it from the chain first.")
def serve(
    host: str,
    port: int,
    rpc_url: str | None,
    marketplace: str | None,
    validations: tuple[str, ...],
    rebuild: bool,
) -> None:
    """Serve the ledger API (/api, /docs) and the dashboard (/), indexing the chain as it goes."""
    import uvicorn

    from marketplace.api.app import create_app
    from marketplace.api.deps import build_service

    settings = Settings.from_env()
    # connects first: a ChainError here becomes a one-line message, before uvicorn starts
    service = build_service(settings, rpc_url=rpc_url, marketplace=marketplace,
                            validations=parse_validation(validations))  # fmt: skip
    if rebuild:
        service.syncer.indexer.rebuild()
    app = create_app(service)
    status = service.index.status()
    click.echo(f"indexed up to block {status.indexed_block} ({status.events} events, "
               f"{status.tasks} tasks); dashboard at http://{host}:{port}/", err=True)  # fmt: skip
    uvicorn.run(app, host=host, port=port, log_level="info")
