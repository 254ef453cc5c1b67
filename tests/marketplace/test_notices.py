"""Notices: one sentence for people, one event object for --json, from the same fields."""

from __future__ import annotations

from marketplace.notices import Notice, Tokens, as_notice


def test_a_notice_reads_as_text_and_exports_exact_json() -> None:
    notice = Notice.of(
        "claimed", "claimed {amount} of task {task_id}", task_id=3, amount=Tokens(1234 * 10**15)
    )

    assert str(notice) == "claimed 1.234 FMT of task 3"
    assert f"[x] {notice}" == "[x] claimed 1.234 FMT of task 3"  # old f-string callers
    assert notice.to_json() == {
        "event": "claimed",
        "task_id": 3,
        "amount": {"units": "1234000000000000000", "value": "1.234", "decimals": 18},
        "message": "claimed 1.234 FMT of task 3",
    }


def test_plain_strings_become_message_events() -> None:
    assert as_notice("hello").to_json() == {"event": "message", "message": "hello"}
