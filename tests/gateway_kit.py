"""Gateways for tests: the real one served by uvicorn in a thread, and a lying one.

``LyingGateway`` speaks the trustless gateway's wire format from a content store but can
misbehave on purpose (``mode``): ``corrupt`` flips a byte of every block it sends while keeping
the CIDs, ``incomplete`` leaves the last block out of CARs, ``extra`` adds an unrelated block to
CARs (harmless: clients must ignore it), ``wrong-type`` answers CARs as text/plain, ``error``
answers 500, ``honest`` tells the truth. Run as a script it serves an embedded store on a
given address (the multi-host tests start it inside a network namespace).
"""

from __future__ import annotations

import argparse
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from marketplace.errors import ContentNotFound
from marketplace.storage import CID, EmbeddedStore, MemoryStore
from marketplace.storage import car as carfmt
from marketplace.storage.dag import dfs_blocks
from marketplace.storage.dagstore import DagStore

MODES = ("honest", "corrupt", "incomplete", "extra", "wrong-type", "error")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LyingGateway:
    """A trustless-gateway look-alike over ``store``; ``url`` once :meth:`start` ran."""

    def __init__(self, store: DagStore, mode: str = "corrupt", host: str = "127.0.0.1") -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        self.store = store
        self.mode = mode
        self.host = host
        self.requests: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    def _block(self, data: bytes) -> bytes:
        if self.mode != "corrupt" or not data:
            return data
        return bytes([data[0] ^ 0xFF]) + data[1:]

    def respond(self, path: str, query: dict[str, str]) -> tuple[int, str, bytes]:
        self.requests.append(path)
        if self.mode == "error":
            return 500, "text/plain", b"internal error"
        try:
            root = CID.parse(path.removeprefix("/ipfs/").split("/")[0])
            root_block = self.store.get_block(root)
        except (ContentNotFound, ValueError):
            return 404, "text/plain", b"not found"
        if query.get("format") == "raw":
            return 200, "application/vnd.ipld.raw", self._block(root_block)
        blocks = list(dfs_blocks(self.store.get_block, root))
        if self.mode == "incomplete":
            blocks = blocks[:-1]
        if self.mode == "extra":
            junk = b"not part of any DAG"
            blocks.insert(1, (CID.of(0x55, junk), junk))
        body = carfmt.header_section([root]) + b"".join(
            carfmt.block_section(cid, self._block(data)) for cid, data in blocks
        )
        ctype = "text/plain" if self.mode == "wrong-type" else "application/vnd.ipld.car; version=1"
        return 200, ctype, body

    def start(self, port: int = 0) -> LyingGateway:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                status, ctype, body = gateway.respond(parts.path, query)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client stopped reading once it saw the lie

        self._server = ThreadingHTTPServer((self.host, port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://{self.host}:{self._server.server_address[1]}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@contextmanager
def serve_app(app: Any, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread; yields its base URL."""
    import uvicorn

    port = free_port(host)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description="a misbehaving trustless gateway (tests only)")
    parser.add_argument("--store", required=True, help="embedded store directory to serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", default="corrupt", choices=MODES)
    args = parser.parse_args()
    gateway = LyingGateway(EmbeddedStore(args.store), args.mode, args.host).start(args.port)
    print(f"lying gateway ({args.mode}) at {gateway.url}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()


__all__ = ["MODES", "LyingGateway", "MemoryStore", "free_port", "serve_app"]
