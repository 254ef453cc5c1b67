"""The audit runner: one audit at a time per task, cached until the task changes."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import pytest

from marketplace.api.audit_runner import AuditRunner, json_safe
from marketplace.api.errors import AuditBusy


@dataclass
class FakeResult:
    task_id: int

    def to_dict(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "ok": True, "score": float("nan")}


class CountingAudit:
    """Stands in for ``audit_task``: counts calls, tracks overlap, can be held open."""

    def __init__(self) -> None:
        self.calls = 0
        self.active = 0
        self.max_active = 0
        self.release = threading.Event()
        self.release.set()
        self._lock = threading.Lock()

    def __call__(self, client: object, store: object, task_id: int, **kw: Any) -> FakeResult:
        with self._lock:
            self.calls += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        self.release.wait(10)
        time.sleep(0.01)
        with self._lock:
            self.active -= 1
        return FakeResult(task_id)


def runner(audit: CountingAudit, **kw: Any) -> AuditRunner:
    return AuditRunner(object(), object(), audit=audit, **kw)  # type: ignore[arg-type]


def test_result_is_cached_until_the_task_version_changes() -> None:
    audit = CountingAudit()
    r = runner(audit)

    first = r.run(1, (10, 0))
    second = r.run(1, (10, 0))
    third = r.run(1, (12, 3))

    assert audit.calls == 2
    assert (first.cached, second.cached, third.cached) == (False, True, False)
    assert first.result["score"] is None  # NaN made JSON-safe


def test_concurrent_requests_for_one_task_share_one_run() -> None:
    audit = CountingAudit()
    audit.release.clear()
    r = runner(audit)
    outcomes: list[bool] = []

    threads = [threading.Thread(target=lambda: outcomes.append(r.run(1, (5, 0)).cached))
               for _ in range(4)]  # fmt: skip
    for t in threads:
        t.start()
    time.sleep(0.2)
    audit.release.set()
    for t in threads:
        t.join(10)

    assert audit.calls == 1
    assert sorted(outcomes) == [False, True, True, True]


def test_audits_of_different_tasks_respect_the_parallel_bound() -> None:
    audit = CountingAudit()
    r = runner(audit, max_parallel=1)

    threads = [threading.Thread(target=r.run, args=(t, (1, 0))) for t in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)

    assert audit.calls == 3 and audit.max_active == 1


def test_a_request_that_cannot_start_in_time_is_refused() -> None:
    audit = CountingAudit()
    audit.release.clear()
    r = runner(audit, max_wait=0.1)
    holder = threading.Thread(target=r.run, args=(1, (1, 0)))
    holder.start()
    time.sleep(0.05)

    with pytest.raises(AuditBusy):
        r.run(1, (2, 0))
    audit.release.set()
    holder.join(10)


def test_json_safe_replaces_non_finite_floats_at_any_depth() -> None:
    value = {"a": [1.0, float("inf"), {"b": float("-inf")}], "c": "x", "d": 2}

    assert json_safe(value) == {"a": [1.0, None, {"b": None}], "c": "x", "d": 2}
