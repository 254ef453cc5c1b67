"""Fixtures for the browser tests: the session's demo run, served by uvicorn on a free port."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

sys.path.insert(0, str(Path(__file__).parents[1] / "marketplace" / "api"))  # the shared demo run

from ledger_demo import LedgerDemo, anvil_available, free_port, shared_demo, shutdown
from playwright.sync_api import Page, sync_playwright

from marketplace.api.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]  # fmt: skip


@pytest.fixture(scope="session")
def browser_demo() -> Iterator[LedgerDemo]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (install Debian's chromium to run browser tests)")
    if not anvil_available():
        pytest.fail("node_modules is missing: run `make setup` (npm ci) first")
    try:
        yield shared_demo()
    finally:
        shutdown()


@pytest.fixture(scope="session")
def server_url(browser_demo: LedgerDemo) -> Iterator[str]:
    """The API and dashboard served for real (uvicorn in a thread, background sync on)."""
    app = create_app(browser_demo.settings,
                     validations={browser_demo.task_id: browser_demo.validation})  # fmt: skip
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail("the server did not start within 30 s")
        time.sleep(0.1)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def external_requests() -> list[str]:
    """URLs the page requested from anywhere but the local server (filled by ``page``)."""
    return []


@pytest.fixture(scope="module")
def page(server_url: str, browser_demo: LedgerDemo, external_requests: list[str]) -> Iterator[Page]:
    """The dashboard loaded for the demo task, once every chart and the audit have rendered."""
    external = external_requests
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1360, "height": 1000})
        page = context.new_page()
        page.on("request", lambda r: None if r.url.startswith(server_url)
                else external.append(r.url))  # fmt: skip
        page.goto(f"{server_url}/?task={browser_demo.task_id}")
        page.wait_for_selector("body[data-ready='true']", state="attached", timeout=120_000)
        yield page
        context.close()
        browser.close()
