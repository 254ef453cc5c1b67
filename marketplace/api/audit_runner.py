"""Bounded audits for the service: one audit core, one run at a time per task, cached per version.

The service runs the very same :func:`marketplace.roles.audit.audit_task` as `fedmarket audit`. An audit
refetches and recomputes every round, so it is expensive; the runner bounds it:

- **one at a time per task** (a lock per task) and at most ``max_parallel`` across tasks;
- **cached by version**: the result is kept with the block and log index of the task's latest
  event. Audit inputs (events, artifacts named by them, the contract's counters) only change
  when the task emits an event, so a cached result stays valid until then — even while the
  chain head keeps moving;
- **waiting, not refusing**: a request for a task that is being audited waits for that run and
  then gets its (now cached) result. If it cannot start within ``max_wait`` seconds the
  runner raises :class:`AuditBusy` (the API answers 503 with Retry-After).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from marketplace.api.errors import AuditBusy
from marketplace.chain.client import MarketplaceClient
from marketplace.protocol.round_compute import Validation
from marketplace.roles.audit import audit_task
from marketplace.storage import ContentStore

Version = tuple[int, int]


@dataclass(frozen=True)
class AuditOutcome:
    """An audit result (``AuditResult.to_dict()``, JSON-safe) and how it was obtained."""

    result: dict[str, Any]
    version: Version
    cached: bool
    duration_s: float


def json_safe(value: Any) -> Any:
    """Non-finite floats to None, recursively (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def load_validation(path: Path) -> Validation:
    """A validation set file (``.npz`` with X and y) for audits of a task."""
    from marketplace.protocol.dataset import load_npz

    dataset: Validation = cast(Validation, load_npz(path))  # read-only X/y satisfy audits
    return dataset


class AuditRunner:
    """Runs and caches audits of tasks on one marketplace."""

    def __init__(
        self,
        client: MarketplaceClient,
        store: ContentStore,
        *,
        validations: Mapping[int, Path] | None = None,
        max_parallel: int = 1,
        max_wait: float = 300.0,
        audit: Callable[..., Any] = audit_task,
    ) -> None:
        self.client = client
        self.store = store
        self.validation_files = dict(validations or {})
        self.max_wait = max_wait
        self._audit = audit
        self._slots = threading.BoundedSemaphore(max_parallel)
        self._guard = threading.Lock()
        self._task_locks: dict[int, threading.Lock] = {}
        self._cache: dict[int, AuditOutcome] = {}
        self._validations: dict[int, Validation] = {}

    def cached(self, task_id: int, version: Version) -> AuditOutcome | None:
        hit = self._cache.get(task_id)
        if hit is None or hit.version != version:
            return None
        return AuditOutcome(hit.result, hit.version, True, hit.duration_s)

    def run(self, task_id: int, version: Version) -> AuditOutcome:
        """The audit of ``task_id`` at ``version`` (its latest event), from cache or computed."""
        hit = self.cached(task_id, version)
        if hit is not None:
            return hit
        with self._guard:
            lock = self._task_locks.setdefault(task_id, threading.Lock())
        if not lock.acquire(timeout=self.max_wait):
            raise AuditBusy(f"an audit of task {task_id} is still running")
        try:
            hit = self.cached(task_id, version)  # a concurrent request may just have filled it
            if hit is not None:
                return hit
            if not self._slots.acquire(timeout=self.max_wait):
                raise AuditBusy("every audit slot is busy")
            try:
                started = time.perf_counter()
                result = self._audit(self.client, self.store, task_id,
                                     validation=self._validation(task_id))  # fmt: skip
                duration = time.perf_counter() - started
            finally:
                self._slots.release()
            outcome = AuditOutcome(json_safe(result.to_dict()), version, False, duration)
            self._cache[task_id] = outcome
            return outcome
        finally:
            lock.release()

    def _validation(self, task_id: int) -> Validation | None:
        if task_id not in self.validation_files:
            return None
        if task_id not in self._validations:
            self._validations[task_id] = load_validation(self.validation_files[task_id])
        return self._validations[task_id]
