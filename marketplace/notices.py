"""Notices: what a long-running role (coordinator, participant node) reports as it works.

A role calls its ``log`` callback with a :class:`Notice`. ``str(notice)`` is the sentence a
person reads (amounts as ``1,000 FMT``); :meth:`Notice.to_json` is the event object that
``--json`` prints, one per line (amounts exact, see :mod:`marketplace.units`)::

    {"event": "round_settled", "task_id": 1, "round": 2, "accuracy": 0.91,
     "total_paid": {"units": "1000000000000000000000", "value": "1000", "decimals": 18}, ...}

Because a notice prints as its sentence, callers that treat the log as text (``print``, an
f-string) keep working unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from marketplace.units import amount_json, format_amount


@dataclass(frozen=True)
class Tokens:
    """A token amount inside a notice: formatted in the sentence, exact in the JSON."""

    units: int

    def __format__(self, spec: str) -> str:
        return format(format_amount(self.units), spec)


@dataclass(frozen=True)
class Notice:
    """One event: its kind (``snake_case``), its sentence and its fields."""

    event: str
    text: str
    fields: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, event: str, template: str, **fields: Any) -> Notice:
        """A notice whose sentence is ``template`` filled from ``fields`` (amounts as Tokens)."""
        return cls(event, template.format(**fields), fields)

    def __str__(self) -> str:
        return self.text

    def to_json(self) -> dict[str, Any]:
        """The event object: ``event``, the fields (amounts exact), and ``message``."""
        out: dict[str, Any] = {"event": self.event}
        for key, value in self.fields.items():
            out[key] = amount_json(value.units) if isinstance(value, Tokens) else value
        out["message"] = self.text
        return out


#: A role's log callback: it receives notices (or, from older callers, plain strings).
Log = Callable[["Notice | str"], None]


def as_notice(message: object, event: str = "message") -> Notice:
    """Any log message as a notice (plain strings become ``{"event": "message", ...}``)."""
    return message if isinstance(message, Notice) else Notice(event, str(message))
