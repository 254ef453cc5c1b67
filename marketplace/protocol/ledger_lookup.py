"""Looking up a task's public facts from its events: CIDs live in events, not in storage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from marketplace.chain.client import MarketplaceClient
from marketplace.chain.events import ChainEvent
from marketplace.errors import ProtocolError


@dataclass(frozen=True)
class TaskFacts:
    """What TaskCreated published: the spec and initial-model CIDs and the parameters."""

    task_id: int
    requester: str
    spec_cid: str
    initial_model_cid: str
    params: dict[str, Any]
    created_block: int


def task_facts(client: MarketplaceClient, task_id: int, from_block: int = 0) -> TaskFacts:
    """Find the task's TaskCreated event (raises if the task does not exist)."""
    for event in client.task_events(task_id, from_block):
        if event.name == "TaskCreated":
            params = event.args["params"]
            return TaskFacts(
                task_id=task_id,
                requester=str(event.args["requester"]),
                spec_cid=str(params["spec_cid"]),
                initial_model_cid=str(params["initial_model_cid"]),
                params=params,
                created_block=event.block_number,
            )
    raise ProtocolError(
        f"task {task_id} does not exist on this marketplace",
        hint="list tasks with `fedmarket task list`",
    )


def round_events(events: list[ChainEvent], round_: int) -> list[ChainEvent]:
    """The events that belong to ``round_`` (those carrying a round argument)."""
    return [e for e in events if e.args.get("round") == round_]


def find_event(events: list[ChainEvent], name: str, round_: int | None = None) -> ChainEvent | None:
    """The last event called ``name`` (for ``round_`` if given)."""
    found = None
    for event in events:
        if event.name == name and (round_ is None or event.args.get("round") == round_):
            found = event
    return found
