"""Keeping the index fresh while serving: a background sync thread, or sync on request.

With the thread running (the normal ``fedmarket serve`` case) the indexer syncs every
``interval`` seconds. When no thread runs (an app driven in-process, e.g. by tests),
:meth:`SyncLoop.ensure_fresh` syncs inline, at most once per ``interval``. Sync errors (the chain
went away) are recorded for /api/health and never crash the server: reads keep serving the
last indexed state.
"""

from __future__ import annotations

import threading
import time

from marketplace.api.indexer import Indexer, SyncReport

DEFAULT_INTERVAL_S = 1.0
#: Chunks per sync call: a long catch-up proceeds in steps, each visible in /api/health.
MAX_CHUNKS_PER_SYNC = 50


class SyncLoop:
    """Runs ``indexer.sync()`` periodically and remembers how the last run went."""

    def __init__(
        self,
        indexer: Indexer,
        *,
        interval: float = DEFAULT_INTERVAL_S,
        max_chunks: int | None = MAX_CHUNKS_PER_SYNC,
    ) -> None:
        self.indexer = indexer
        self.interval = interval
        self.max_chunks = max_chunks
        self.last_report: SyncReport | None = None
        self.last_sync: float | None = None  # monotonic time of the last successful sync
        self.last_error: str | None = None
        self._attempted: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def sync_once(self) -> SyncReport | None:
        """One sync; errors are recorded, not raised."""
        with self._lock:
            self._attempted = time.monotonic()
            try:
                report = self.indexer.sync(max_chunks=self.max_chunks)
            except Exception as exc:  # the RPC endpoint vanished, a reorg mid-chunk, ...
                self.last_error = f"{type(exc).__name__}: {exc}"
                return None
            self.last_report = report
            self.last_sync = time.monotonic()
            self.last_error = None
            return report

    def ensure_fresh(self) -> None:
        """Sync inline when no background thread does and the last attempt is older than
        ``interval`` (requests in a burst share one sync)."""
        if self.running:
            return
        attempted = self._attempted
        if attempted is None or time.monotonic() - attempted >= self.interval:
            self.sync_once()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="fedmarket-indexer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sync_once()
            self._stop.wait(self.interval)
