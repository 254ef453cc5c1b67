"""`fedmarket serve`: run the ledger API and dashboard with uvicorn."""

from __future__ import annotations

import errno
import re
import socket
from pathlib import Path

import click

from fedmarket.options import json_option, rpc_url_option
from fedmarket.ui import echo, emit_json, spinner
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


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port), or a one-line error when the port is taken.

    Bound before anything is printed or indexed, and handed to uvicorn, so the address shown
    is the one actually served (never another program's).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot listen on {host}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use (another server is running there)",
                hint="stop it, or pick another port with --port",
            ) from None
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


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
@json_option('Print {"event": "listening", "url", ...} once the server listens.')
def serve(
    host: str,
    port: int,
    rpc_url: str | None,
    marketplace: str | None,
    validations: tuple[str, ...],
    rebuild: bool,
    as_json: bool,
) -> None:
    """Serve the ledger API (/api, /docs) and the dashboard (/), indexing the chain as it goes.

    Prints one line once it listens: the dashboard's URL and how far the index got.
    """
    import uvicorn

    from marketplace.api.app import create_app
    from marketplace.api.deps import build_service

    settings = Settings.from_env()
    files = parse_validation(validations)
    sock = bind(host, port)
    try:
        with spinner("connecting to the chain") as progress:
            # connects first: a ChainError here becomes a one-line message
            service = build_service(settings, rpc_url=rpc_url, marketplace=marketplace,
                                    validations=files)  # fmt: skip
            if rebuild:
                progress.update("dropping the index")
                service.syncer.indexer.rebuild()
            progress.update("indexing the chain's events")
            app = create_app(service)
        indexed = service.index.status()
        url = f"http://{host}:{port}/"
        if as_json:
            emit_json({"event": "listening", "url": url, "indexed_block": indexed.indexed_block,
                       "events": indexed.events, "tasks": indexed.tasks})  # fmt: skip
        else:
            echo(f"dashboard at {url} (indexed up to block {indexed.indexed_block}: "
                 f"{indexed.events} events, {indexed.tasks} tasks); Ctrl-C stops it")  # fmt: skip
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        server.run(sockets=[sock])
    finally:
        sock.close()
