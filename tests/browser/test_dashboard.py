"""The dashboard in a real (headless Debian) Chromium: charts show the demo's data, offline."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from ledger_demo import LedgerDemo
from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.anvil, pytest.mark.slow]

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts"


def test_contribution_bars_cover_every_participant_and_round(
    page: Page, browser_demo: LedgerDemo
) -> None:
    bars = page.locator("#contributions-chart rect.bar")
    series = {bars.nth(i).get_attribute("data-series") for i in range(bars.count())}

    rounds = len(browser_demo.result.rounds)
    assert bars.count() == len(browser_demo.addresses) * rounds
    assert series == set(browser_demo.addresses)


def test_payout_lines_one_per_participant(page: Page, browser_demo: LedgerDemo) -> None:
    lines = page.locator("#payouts-chart polyline.series")
    points = page.locator("#payouts-chart circle.point")

    assert lines.count() == len(browser_demo.addresses)
    assert points.count() == len(browser_demo.addresses) * len(browser_demo.result.rounds)


def test_fairness_and_accuracy_charts_have_a_point_per_round(
    page: Page, browser_demo: LedgerDemo
) -> None:
    rounds = len(browser_demo.result.rounds)
    fairness_points = page.locator("#fairness-chart circle.point").count()
    accuracy_points = page.locator("#accuracy-chart circle.point").count()

    defined = sum(1 for r in browser_demo.result.rounds
                  for k in ("jain", "gini", "pearson") if r["fairness"].get(k) is not None)  # fmt: skip
    assert fairness_points == defined and accuracy_points == rounds


def test_participant_addresses_are_labelled(page: Page, browser_demo: LedgerDemo) -> None:
    table = page.locator("#participants-table").inner_text()
    legend_titles = page.locator("#contributions-legend .legend-item").evaluate_all(
        "items => items.map(i => i.title)"
    )

    assert all(address in table for address in browser_demo.addresses)
    assert sorted(legend_titles) == sorted(browser_demo.addresses)


def test_audit_status_per_round(page: Page, browser_demo: LedgerDemo) -> None:
    rows = page.locator("#audit-table tbody tr")
    statuses = [rows.nth(i).locator(".badge").inner_text() for i in range(rows.count())]

    assert statuses == ["ok"] * len(browser_demo.result.rounds)
    assert page.locator("#audit-overall").inner_text() == "OK"
    note = page.locator("#audit-note")  # which level ran, and what the other would add
    assert note.get_attribute("data-level") in ("public", "full")
    assert "audit:" in note.inner_text()


def test_amounts_are_readable(page: Page) -> None:
    """Token amounts as whole tokens with separators, never raw 18-decimal base units."""
    text = page.locator("body").inner_text()

    assert not re.search(r"\b\d{16,}\b", text)
    assert "FMT" in text
    assert re.search(r"\b\d{1,3}(,\d{3})*(\.\d{1,2})?\b", page.locator("#audit-table").inner_text())


def test_page_needs_nothing_from_the_network_and_is_captured(
    page: Page, external_requests: list[str]
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    assert external_requests == []
    assert page.locator("#message").is_hidden()
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
