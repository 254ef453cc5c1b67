"""``fedmarket ipfs``: add, read, verify, export and tidy content from the shell."""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import BinaryIO, cast

import click

from fedmarket.options import json_option
from fedmarket.ui import echo, emit_json, error_console, spinner
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
    console = error_console() if total >= _PROGRESS_FROM else None
    if console is None:
        return store.add(fh)
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("add", total=total)
        return store.add(fh, progress=lambda done: bar.update(task, completed=done))


@click.group()
def ipfs() -> None:
    """Add, read, verify and export content (embedded store or FEDMARKET_IPFS=<Kubo URL>)."""


@ipfs.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option('One object: {"cid", "size", "sha256"}.')
def add(file: Path, as_json: bool) -> None:
    """Store FILE and print its CID (pinned, as with `ipfs add`)."""
    store = _store()
    with open(file, "rb") as fh:
        result = _add_with_progress(store, fh, file.stat().st_size)
    if as_json:
        emit_json({"cid": result.cid, "size": result.size, "sha256": result.sha256})
    else:
        echo(result.cid)


@ipfs.command()
@click.argument("cid")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="First byte to print.")
@click.option("--length", type=click.IntRange(min=0), default=None, help="Bytes to print.")
@json_option('One object: {"cid", "offset", "size", "base64"} instead of the raw bytes.')
def cat(cid: str, offset: int, length: int | None, as_json: bool) -> None:
    """Write the content of CID to stdout (binary-safe, every block verified)."""
    pieces = _store().cat(cid, offset=offset, length=length)
    if as_json:
        data = b"".join(pieces)
        emit_json({"cid": cid, "offset": offset, "size": len(data),
                   "base64": base64.b64encode(data).decode()})  # fmt: skip
        return
    out = sys.stdout.buffer
    for piece in pieces:
        out.write(piece)
    out.flush()


@ipfs.command()
@click.argument("cid", required=False)
@json_option('One object: {"ok", "checked", "problems"}; exit code 1 on damage.')
def verify(cid: str | None, as_json: bool) -> None:
    """Re-hash the blocks of CID (or of the whole store) and report damage; exit 1 if any."""
    store = _store()
    if not isinstance(store, DagStore):
        if cid is None:
            raise ConfigError("verifying a whole Kubo repo is `ipfs repo verify`'s job")
        with spinner(f"verifying {cid}"):
            size = sum(len(piece) for piece in store.cat(cid))
        if as_json:
            emit_json({"ok": True, "checked": 1, "size": size, "problems": []})
        else:
            echo(f"ok: {cid} ({size} bytes re-derive the CID)")
        return
    with spinner(f"verifying {cid or 'every block'}"):
        report = store.verify(cid)
    problems = [
        {"kind": p.kind, "cid": p.cid, "location": str(p.location), "detail": p.detail}
        for p in report.problems
    ]
    if as_json:
        emit_json({"ok": report.ok, "checked": report.checked, "problems": problems})
        if not report.ok:
            sys.exit(1)
        return
    for problem in report.problems:
        echo(f"{problem.kind}: {problem.cid} at {problem.location} ({problem.detail})")
    if not report.ok:
        raise FedmarketError(
            f"{len(report.problems)} bad block(s) out of {report.checked} checked",
            hint="re-add the original file to repair, or restore the store from a CAR export",
        )
    echo(f"ok: {report.checked} block(s) verified")


@ipfs.command()
@click.argument("cid")
@click.option("--car", "car_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@json_option('One object: {"cid", "car", "blocks"}.')
def export(cid: str, car_path: Path, as_json: bool) -> None:
    """Write CID's DAG to a CARv1 file (`ipfs dag import FILE` publishes the same CIDs)."""
    with spinner(f"exporting {cid}"):
        count = _embedded("export").export_car(cid, car_path)
    if as_json:
        emit_json({"cid": cid, "car": str(car_path), "blocks": count})
    else:
        echo(f"wrote {count} block(s) to {car_path}")


@ipfs.command(name="import")
@click.argument("car_path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option('One object: {"roots": [...]}.')
def import_(car_path: Path, as_json: bool) -> None:
    """Store every block of a CARv1 file (each verified) and pin its roots."""
    with spinner(f"importing {car_path}"):
        roots = list(_embedded("import").import_car(car_path))
    if as_json:
        emit_json({"roots": roots})
        return
    for root in roots:
        echo(root)


@ipfs.command()
@click.argument("cid")
@json_option('One object: {"pinned": CID}.')
def pin(cid: str, as_json: bool) -> None:
    """Keep CID and everything under it through gc."""
    _store().pin(cid)
    if as_json:
        emit_json({"pinned": cid})
    else:
        echo(f"pinned {cid}")


@ipfs.command()
@click.argument("cid")
@json_option('One object: {"unpinned": CID}.')
def unpin(cid: str, as_json: bool) -> None:
    """Let gc remove CID's blocks (unless another pin needs them)."""
    _store().unpin(cid)
    if as_json:
        emit_json({"unpinned": cid})
    else:
        echo(f"unpinned {cid}")


@ipfs.command()
@json_option('One object: {"removed", "freed_bytes", "kept"}.')
def gc(as_json: bool) -> None:
    """Delete blocks no pin reaches (safe while other processes add)."""
    with spinner("collecting garbage"):
        report = _embedded("gc").gc()
    if as_json:
        emit_json({"removed": report.removed, "freed_bytes": report.freed_bytes,
                   "kept": report.kept})  # fmt: skip
    else:
        echo(f"removed {report.removed} block(s), {report.freed_bytes:,} bytes; kept {report.kept}")


@ipfs.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@json_option('Print {"event": "listening", "url"} once the gateway listens.')
def serve(host: str, port: int, as_json: bool) -> None:
    """Serve this store read-only as an IPFS trustless gateway (GET /ipfs/CID?format=raw|car).

    Other hosts read from it by listing http://HOST:PORT in FEDMARKET_IPFS_GATEWAYS; every
    block they receive is verified against its CID. No chain is needed.
    """
    import uvicorn

    from fedmarket.commands.serve import bind
    from marketplace.api.gateway import BlockSource, create_gateway_app
    from marketplace.storage import open_local_store

    store = open_local_store(Settings.from_env())
    if not hasattr(store, "get_block"):  # pragma: no cover - every store of ours has it
        raise ConfigError(f"{store!r} cannot serve blocks")
    sock = bind(host, port)  # a taken port is a one-line error before anything is printed
    try:
        url = f"http://{host}:{port}/ipfs/"
        if as_json:
            emit_json({"event": "listening", "url": url})
        else:
            echo(f"IPFS trustless gateway for {store!r} at {url}; Ctrl-C stops it", err=True)
        app = create_gateway_app(cast(BlockSource, store))
        uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
    finally:
        sock.close()
