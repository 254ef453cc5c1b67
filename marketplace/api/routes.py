"""The read-only JSON routes: thin functions serving the index's records (response schemas)."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path

from marketplace.api import schemas
from marketplace.api.deps import Audits, Index, Paging, Syncer
from marketplace.api.errors import NotFound

TaskId = Annotated[int, Path(ge=0, le=2**63 - 1, description="The task's on-chain id.")]
RoundNo = Annotated[int, Path(ge=0, le=2**32 - 1, description="Round number (from 1).")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": schemas.Problem, "description": "Unknown task or round."}
}

router = APIRouter(prefix="/api")


@router.get("/health", response_model=schemas.Health, tags=["service"])
def health(index: Index, syncer: Syncer) -> schemas.Health:
    """Indexer progress against the chain head; ``degraded`` when the last sync failed."""
    status = index.status()
    report = syncer.last_report
    head = report.head if report is not None else None
    lag = None if head is None or status.indexed_block is None else head - status.indexed_block
    ago = None if syncer.last_sync is None else round(time.monotonic() - syncer.last_sync, 3)
    return schemas.Health(
        status="degraded" if syncer.last_error else "ok",
        chain_id=status.chain_id,
        marketplace=status.marketplace,
        indexed_block=status.indexed_block,
        head_block=head,
        lag_blocks=lag,
        events=status.events,
        tasks=status.tasks,
        last_sync_s_ago=ago,
        last_error=syncer.last_error,
    )


@router.get("/tasks", response_model=schemas.PageOf[schemas.Task], tags=["tasks"])
def list_tasks(index: Index, page: Paging) -> schemas.PageOf[schemas.Task]:
    """Every task on the marketplace, by id."""
    return index.tasks(page.limit, page.offset)


@router.get("/tasks/{task_id}", response_model=schemas.Task, responses=NOT_FOUND, tags=["tasks"])
def get_task(index: Index, task_id: TaskId) -> schemas.Task:
    """One task: parameters, state and token totals."""
    return index.task(task_id)


@router.get("/tasks/{task_id}/rounds", response_model=schemas.PageOf[schemas.Round],
            responses=NOT_FOUND, tags=["rounds"])  # fmt: skip
def list_rounds(index: Index, task_id: TaskId, page: Paging) -> schemas.PageOf[schemas.Round]:
    """The task's rounds: deadlines, effective settlement, challenges, outcome, accuracy and
    fairness."""
    return index.rounds(task_id, page.limit, page.offset)


@router.get("/tasks/{task_id}/rounds/{round_no}", response_model=schemas.RoundDetail,
            responses=NOT_FOUND, tags=["rounds"])  # fmt: skip
def get_round(index: Index, task_id: TaskId, round_no: RoundNo) -> schemas.RoundDetail:
    """One round with its commits, reveals, slashes, challenges and contributions."""
    return index.round(task_id, round_no)


@router.get("/tasks/{task_id}/participants", response_model=schemas.PageOf[schemas.Participant],
            responses=NOT_FOUND, tags=["participants"])  # fmt: skip
def list_participants(
    index: Index, task_id: TaskId, page: Paging
) -> schemas.PageOf[schemas.Participant]:
    """Who joined: stake, slashes, withdrawals, claims and current entitlement."""
    return index.participants(task_id, page.limit, page.offset)


@router.get("/tasks/{task_id}/contributions", response_model=schemas.ContributionsPage,
            responses=NOT_FOUND, tags=["valuation"])  # fmt: skip
def list_contributions(index: Index, task_id: TaskId, page: Paging) -> schemas.ContributionsPage:
    """Per reported round: each participant's contribution value and payouts, and fairness."""
    return index.contributions(task_id, page.limit, page.offset)


@router.get("/tasks/{task_id}/payouts", response_model=schemas.PayoutsPage,
            responses=NOT_FOUND, tags=["valuation"])  # fmt: skip
def list_payouts(index: Index, task_id: TaskId, page: Paging) -> schemas.PayoutsPage:
    """Per participant: round and cumulative payouts across the reported rounds, and claims."""
    return index.payouts(task_id, page.limit, page.offset)


@router.get("/tasks/{task_id}/claims", response_model=schemas.PageOf[schemas.Claim],
            responses=NOT_FOUND, tags=["participants"])  # fmt: skip
def list_claims(index: Index, task_id: TaskId, page: Paging) -> schemas.PageOf[schemas.Claim]:
    """Claims paid out against the rounds' payout roots, one per account and round, oldest
    first."""
    return index.claims(task_id, page.limit, page.offset)


@router.get(
    "/tasks/{task_id}/audit",
    response_model=schemas.Audit,
    responses={**NOT_FOUND, 503: {"model": schemas.Problem,
                                  "description": "Audits are busy or the chain is unreachable."}},
    tags=["audit"],
)  # fmt: skip
def audit(index: Index, audits: Audits, task_id: TaskId) -> schemas.Audit:
    """Recompute every round from chain + IPFS (the `fedmarket audit` core) and compare.

    One audit runs at a time per task; concurrent requests wait for it. Results are cached until
    the task emits a new event.
    """
    if audits is None:
        raise HTTPException(503, "audits are not configured on this server")
    version = index.task_version(task_id)
    outcome = audits.run(task_id, version)
    return schemas.Audit.model_validate({
        **outcome.result,
        "version_block": outcome.version[0],
        "cached": outcome.cached,
        "duration_s": round(outcome.duration_s, 3),
    })  # fmt: skip


__all__ = ["NotFound", "router"]
