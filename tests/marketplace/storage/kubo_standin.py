"""A stand-in for Kubo's RPC API on 127.0.0.1, for testing :class:`KuboStore` offline.

It behaves as Kubo documents: POST only (GET gets 405), multipart ``/api/v0/add`` answering
NDJSON, ``/api/v0/cat`` streamed with chunked transfer encoding, errors as HTTP 500 with a
JSON body ``{"Message", "Code", "Type": "error"}``, 404 for unknown endpoints. ``mode``
switches on misbehaviour: ``hang`` (answers too late), ``wrong-cid`` (reports another CID),
``corrupt-cat`` (flips a byte of what ``cat`` and ``block/get`` serve), ``flaky`` (one 503 before each success).
"""

from __future__ import annotations

import json
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from marketplace.errors import ContentNotFound
from marketplace.storage import CID, MemoryStore


class StandinKubo:
    """Start with :meth:`start`; ``url`` is then its RPC address; ``requests`` logs calls."""

    def __init__(self, mode: str = "ok", hang_seconds: float = 2.0) -> None:
        self.mode = mode
        self.hang_seconds = hang_seconds
        self.store = MemoryStore()
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._flaky_seen: set[str] = set()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    def start(self) -> None:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                standin.requests.append(("GET", self.path, {}))
                self._send(405, b"405 - Method Not Allowed", "text/plain")

            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                standin.requests.append(("POST", parts.path, params))
                standin.handle(self, parts.path, params, body)

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # ---- behaviour ---------------------------------------------------------------------
    def handle(self, h: Any, path: str, params: dict[str, str], body: bytes) -> None:
        if self.mode == "hang":
            time.sleep(self.hang_seconds)
        if self.mode == "flaky" and path not in self._flaky_seen:
            self._flaky_seen.add(path)
            h._send(503, b"busy", "text/plain")
            return
        routes = {
            "/api/v0/version": self.version,
            "/api/v0/add": self.add,
            "/api/v0/cat": self.cat,
            "/api/v0/block/stat": self.block_stat,
            "/api/v0/block/get": self.block_get,
            "/api/v0/pin/add": self.pin_add,
            "/api/v0/pin/rm": self.pin_rm,
        }
        route = routes.get(path)
        if route is None:
            h._send(404, b"404 page not found", "text/plain")
            return
        try:
            route(h, params, body)
        except ContentNotFound as exc:
            self.error(h, f"block was not found locally (offline): {exc}")
        except BrokenPipeError:  # client gave up (timeout tests)
            pass

    @staticmethod
    def error(h: Any, message: str) -> None:
        body = json.dumps({"Message": message, "Code": 0, "Type": "error"}).encode()
        h._send(500, body, "application/json")

    @staticmethod
    def reply(h: Any, *objects: dict[str, Any]) -> None:
        body = b"".join(json.dumps(o).encode() + b"\n" for o in objects)
        h._send(200, body, "application/json")

    def version(self, h: Any, params: dict[str, str], body: bytes) -> None:
        self.reply(h, {"Version": "0.32.1", "Commit": "standin", "Repo": "16"})

    def add(self, h: Any, params: dict[str, str], body: bytes) -> None:
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + h.headers["Content-Type"].encode() + b"\r\n\r\n" + body
        )
        files = [part.get_payload(decode=True) for part in message.iter_parts()]
        if len(files) != 1 or not isinstance(files[0], bytes):
            self.error(h, "expected exactly one file")
            return
        data = files[0]
        result = self.store.add(data, pin=params.get("pin", "true") == "true")
        cid = result.cid
        if self.mode == "wrong-cid":
            cid = str(CID.of(0x55, data + b"!"))
        self.reply(h, {"Name": "data", "Hash": cid, "Size": str(result.size)})

    def cat(self, h: Any, params: dict[str, str], body: bytes) -> None:
        data = bytearray(self.store.cat_bytes(params["arg"]))
        if self.mode == "corrupt-cat" and data:
            data[len(data) // 2] ^= 0xFF
        h.send_response(200)
        h.send_header("Content-Type", "text/plain")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        for start in range(0, len(data), 100_000):
            piece = bytes(data[start : start + 100_000])
            h.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        h.wfile.write(b"0\r\n\r\n")

    def block_stat(self, h: Any, params: dict[str, str], body: bytes) -> None:
        block = self.store.get_block(CID.parse(params["arg"]))
        self.reply(h, {"Key": params["arg"], "Size": len(block)})

    def block_get(self, h: Any, params: dict[str, str], body: bytes) -> None:
        block = bytearray(self.store.get_block(CID.parse(params["arg"])))
        if self.mode == "corrupt-cat" and block:
            block[0] ^= 0xFF
        h._send(200, bytes(block), "application/octet-stream")

    def pin_add(self, h: Any, params: dict[str, str], body: bytes) -> None:
        self.store.pin(params["arg"])
        self.reply(h, {"Pins": [params["arg"]]})

    def pin_rm(self, h: Any, params: dict[str, str], body: bytes) -> None:
        if params["arg"] not in self.store.pins():
            self.error(h, "not pinned or pinned indirectly")
            return
        self.store.unpin(params["arg"])
        self.reply(h, {"Pins": [params["arg"]]})
