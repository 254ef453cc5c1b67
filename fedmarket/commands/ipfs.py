"""``fedmarket ipfs``: add, read, verify, export and tidy content from the shell."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import BinaryIO, cast

import click

from fedmarket.options import json_option
from marketplace.errors import ConfigError, FedmarketError
from marketplace.settings import Settings
from marketplace.storage import open_store
from marketplace.storage.dagstore import DagStore
from marketplace.storage.protocol import AddResult, ContentStore

_PROGRESS_FROM = 16 * 2**20  # show a progress bar for inputs at least this large


def _store() -> ContentStore:
    return open_store(Settings.from_env())


def _embedded(action: str) -> DagStore:
    store = _store()
    if not isinstance(store, DagStore):
        raise ConfigError(
            f"`fedmarket ipfs {action}` works on the embedded store only",
            hint="unset FEDMARKET_IPFS, or use the Kubo CLI for this",
        )
    return store


def _add_with_progress(store: ContentStore, fh: BinaryIO, total: int) -> AddResult:
    if total < _PROGRESS_FROM or not sys.stderr.isatty():
        return store.add(fh)
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("add", total=total)
        return store.add(fh, progress=lambda done: bar.update(task, completed=done))


@click.group()
def ipfs() -> None:
    """Add, read, verify and export content (embedded store or FEDMARKET_IPFS=<Kubo URL>)."""


@ipfs.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option("Print {cid, size, sha256} as JSON.")
def add(file: Path, as_json: bool) -> None:
    """Store FILE and print its CID (pinned, as with `ipfs add`)."""
    store = _store()
    with open(file, "rb") as fh:
        result = _add_with_progress(store, fh, file.stat().st_size)
    if as_json:
        click.echo(json.dumps({"cid": result.cid, "size": result.size, "sha256": result.sha256}))
    else:
        click.echo(result.cid)


@ipfs.command()
@click.argument("cid")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="First byte to print.")
@click.option("--length", type=click.IntRange(min=0), default=None, help="Bytes to print.")
def cat(cid: str, offset: int, length: int | None) -> None:
    """Write the content of CID to stdout (binary-safe, every block verified)."""
    out = sys.stdout.buffer
    for piece in _store().cat(cid, offset=offset, length=length):
        out.write(piece)
    out.flush()


@ipfs.command()
@click.argument("cid", required=False)
def verify(cid: str | None) -> None:
    """Re-hash the blocks of CID (or of the whole store) and report damage; exit 1 if any."""
    store = _store()
    if not isinstance(store, DagStore):
        if cid is None:
            raise ConfigError("verifying a whole Kubo repo is `ipfs repo verify`'s job")
        size = sum(len(piece) for piece in store.cat(cid))
        click.echo(f"ok: {cid} ({size} bytes re-derive the CID)")
        return
    report = store.verify(cid)
    for problem in report.problems:
        click.echo(f"{problem.kind}: {problem.cid} at {problem.location} ({problem.detail})")
    if not report.ok:
        raise FedmarketError(
            f"{len(report.problems)} bad block(s) out of {report.checked} checked",
            hint="re-add the original file to repair, or restore the store from a CAR export",
        )
    click.echo(f"ok: {report.checked} block(s) verified")


@ipfs.command()
@click.argument("cid")
@click.option("--car", "car_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
def export(cid: str, car_path: Path) -> None:
    """Write CID's DAG to a CARv1 file (`ipfs dag import FILE` publishes the same CIDs)."""
    count = _embedded("export").export_car(cid, car_path)
    click.echo(f"wrote {count} block(s) to {car_path}")


@ipfs.command(name="import")
@click.argument("car_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_(car_path: Path) -> None:
    """Store every block of a CARv1 file (each verified) and pin its roots."""
    for root in _embedded("import").import_car(car_path):
        click.echo(root)


@ipfs.command()
@click.argument("cid")
def pin(cid: str) -> None:
    """Keep CID and everything under it through gc."""
    _store().pin(cid)
    click.echo(f"pinned {cid}")


@ipfs.command()
@click.argument("cid")
def unpin(cid: str) -> None:
    """Let gc remove CID's blocks (unless another pin needs them)."""
    _store().unpin(cid)
    click.echo(f"unpinned {cid}")


@ipfs.command()
def gc() -> None:
    """Delete blocks no pin reaches (safe while other processes add)."""
    report = _embedded("gc").gc()
    click.echo(f"removed {report.removed} block(s), {report.freed_bytes} bytes; kept {report.kept}")


@ipfs.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
def serve(host: str, port: int) -> None:
    """Serve this store read-only as an IPFS trustless gateway (GET /ipfs/CID?format=raw|car).

    Other hosts read from it by listing http://HOST:PORT in FEDMARKET_IPFS_GATEWAYS; every
    block they receive is verified against its CID. No chain is needed.
    """
    import uvicorn

    from marketplace.api.gateway import BlockSource, create_gateway_app
    from marketplace.storage import open_local_store

    store = open_local_store(Settings.from_env())
    if not hasattr(store, "get_block"):  # pragma: no cover - every store of ours has it
        raise ConfigError(f"{store!r} cannot serve blocks")
    click.echo(f"IPFS trustless gateway for {store!r} at http://{host}:{port}/ipfs/", err=True)
    uvicorn.run(create_gateway_app(cast(BlockSource, store)), host=host, port=port,
                log_level="warning")  # fmt: skip
