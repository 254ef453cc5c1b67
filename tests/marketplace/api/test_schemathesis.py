"""Property-based tests of the API against its own OpenAPI schema (schemathesis, in-process ASGI).

Every operation gets generated path and query parameters, valid ones and invalid ones, and once
more with the demo's task id pinned so valid requests reach real data; the response must never
be a 5xx and must conform to the schema (status code, content type, body). Hypothesis drives
schemathesis' per-operation strategies directly, so the schema can come from the session's demo
app (``schemathesis.pytest.from_fixture`` does not run under this pytest version).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from ledger_demo import LedgerDemo
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

pytestmark = [pytest.mark.anvil, pytest.mark.slow]

EXAMPLES_PER_OPERATION = 25


@pytest.fixture(scope="module")
def api_schema(demo_app: FastAPI) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_asgi("/openapi.json", demo_app)


def exercise(
    operation: schemathesis.APIOperation,
    mode: GenerationMode,
    path_parameters: dict[str, Any] | None,
    calls: dict[str, int],
) -> None:
    """Run the generated cases of one operation through the app."""

    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

    @given(case=strategy)
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def check(case: schemathesis.Case) -> None:
        response = case.call_and_validate()
        assert response.status_code < 500, f"{operation.label}: {response.text}"
        calls[operation.label] = calls.get(operation.label, 0) + 1

    check()


@pytest.mark.parametrize(("mode", "pin_task"), [(GenerationMode.POSITIVE, False),
                                                (GenerationMode.NEGATIVE, False),
                                                (GenerationMode.POSITIVE, True)])  # fmt: skip
def test_no_server_errors_and_schema_conformance(
    api_schema: schemathesis.BaseSchema,
    ledger_demo: LedgerDemo,
    mode: GenerationMode,
    pin_task: bool,
) -> None:
    results = list(api_schema.get_all_operations())
    assert all(isinstance(r, Ok) for r in results), results  # the schema itself is valid
    operations = [r.ok() for r in results if isinstance(r, Ok)]
    calls: dict[str, int] = {}

    exercised = []
    for operation in operations:
        names = {p.name for p in operation.iter_parameters()}
        if mode is GenerationMode.NEGATIVE and not names:
            continue  # nothing to make invalid (/api/health)
        if pin_task and "task_id" not in names:
            continue
        pinned = {"task_id": ledger_demo.task_id} if pin_task else None
        exercise(operation, mode, pinned, calls)
        exercised.append(operation.label)

    assert len(operations) == 10
    assert sorted(calls) == sorted(exercised)  # every selected operation ran its cases
