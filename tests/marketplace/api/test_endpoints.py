"""Every endpoint of the ledger API on a real demo run, checked against the chain and the demo."""

from __future__ import annotations

import math

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from ledger_demo import LedgerDemo

from devnet.accounts import dev_account
from fedmarket.demo import AGGREGATOR, REQUESTER, DemoConfig
from marketplace.chain.client import MarketplaceClient
from marketplace.chain.rpc import connect
from marketplace.protocol.ledger import Ledger

pytestmark = [pytest.mark.anvil, pytest.mark.slow]


@pytest.fixture(scope="module")
def chain(ledger_demo: LedgerDemo) -> MarketplaceClient:
    """A read-only client straight on the demo's chain (the independent source of truth)."""
    from marketplace.chain.deployments import Deployments

    deployments = Deployments.load(ledger_demo.settings.deployments_file)
    return MarketplaceClient(connect(deployments.rpc_url), deployments.marketplace)


def test_health_reports_the_indexed_head(api: TestClient, chain: MarketplaceClient) -> None:
    response = api.get("/api/health")

    body = response.json()
    assert response.status_code == 200 and body["status"] == "ok"
    assert body["chain_id"] == chain.w3.eth.chain_id
    assert body["marketplace"] == chain.market.address
    assert body["lag_blocks"] >= 0 and body["indexed_block"] <= chain.w3.eth.block_number
    assert body["events"] > 0 and body["tasks"] >= 1


def test_tasks_list_holds_the_demo_task(api: TestClient, ledger_demo: LedgerDemo) -> None:
    body = api.get("/api/tasks").json()

    ids = [t["task_id"] for t in body["items"]]
    assert ledger_demo.task_id in ids and body["total"] == len(ids)
    task = body["items"][ids.index(ledger_demo.task_id)]
    assert task["requester"] == dev_account(REQUESTER).address
    assert task["aggregator"] == dev_account(AGGREGATOR).address


def test_task_totals_match_the_contract_counters(
    api: TestClient, ledger_demo: LedgerDemo, chain: MarketplaceClient
) -> None:
    task = api.get(f"/api/tasks/{ledger_demo.task_id}").json()

    info = chain.task(ledger_demo.task_id)
    assert task["rounds"] == 2 and task["rounds_settled"] == 2
    assert task["participants"] == len(DemoConfig().behaviours)
    assert int(task["allocated"]) == int(info.total_allocated) == ledger_demo.result.budget_spent
    assert int(task["claimed"]) == int(info.total_claimed)
    assert int(task["claimed"]) == sum(p["tokens_claimed"] for p in ledger_demo.result.participants)
    assert int(task["forfeited"]) == int(info.total_forfeited)
    assert task["rounds_final"] == 2 and task["arbiter"] == info.arbiter
    assert (task["status"], task["ended_reason"]) == ("ended", "completed")
    assert task["ended_at"] == int(info.ended_at)


def test_rounds_carry_settlement_accuracy_and_fairness(
    api: TestClient, ledger_demo: LedgerDemo, chain: MarketplaceClient
) -> None:
    body = api.get(f"/api/tasks/{ledger_demo.task_id}/rounds").json()

    assert [r["round"] for r in body["items"]] == [1, 2]
    for got, want in zip(body["items"], ledger_demo.result.rounds, strict=True):
        assert (got["status"], got["outcome"]) == ("final", "unchallenged")
        assert got["report_cached"] and not got["corrected"]
        assert got["report_cid"] == got["aggregator_report_cid"]
        assert int(got["total_paid"]) == sum(want["payouts"].values())
        on_chain = chain.round(ledger_demo.task_id, got["round"])
        assert got["payout_root"] == on_chain.payout_root and got["final_at"] == on_chain.final_at
        assert int(got["claimed"]) == int(on_chain.total_claimed)
        assert math.isclose(got["accuracy"], want["accuracy"])
        assert math.isclose(got["fairness"]["jain"], want["fairness"]["jain"])
        assert got["commits"] == got["reveals"] == len(ledger_demo.addresses)


def test_round_detail_lists_commits_reveals_and_contributions(
    api: TestClient, ledger_demo: LedgerDemo
) -> None:
    body = api.get(f"/api/tasks/{ledger_demo.task_id}/rounds/1").json()

    want = ledger_demo.result.rounds[0]["contributions"]
    assert {c["participant"] for c in body["commits"]} == set(ledger_demo.addresses)
    assert {r["participant"] for r in body["reveals"]} == set(ledger_demo.addresses)
    got = {c["participant"]: c["value"] for c in body["contributions"] if c["value"] is not None}
    assert got.keys() == want.keys()
    assert all(math.isclose(got[a], want[a]) for a in want)


def test_contributions_per_round_match_the_coordinator(
    api: TestClient, ledger_demo: LedgerDemo
) -> None:
    body = api.get(f"/api/tasks/{ledger_demo.task_id}/contributions").json()

    assert sorted(body["participants"]) == sorted(ledger_demo.addresses)
    assert [r["round"] for r in body["items"]] == [1, 2]
    for got, want in zip(body["items"], ledger_demo.result.rounds, strict=True):
        values = {e["participant"]: e["value"] for e in got["entries"] if e["value"] is not None}
        paid = {e["participant"]: int(e["round_payout"]) for e in got["entries"]}
        assert values == pytest.approx(want["contributions"])
        assert {a: v for a, v in paid.items() if v} == want["payouts"]
        assert got["fairness"]["gini"] == pytest.approx(want["fairness"]["gini"])


def test_payouts_accumulate_to_what_was_claimed(api: TestClient, ledger_demo: LedgerDemo) -> None:
    body = api.get(f"/api/tasks/{ledger_demo.task_id}/payouts").json()

    assert body["rounds"] == body["final_rounds"] == [1, 2]
    claimed = {p["address"]: p["tokens_claimed"] for p in ledger_demo.result.participants}
    for series in body["items"]:
        per_round = [int(x) for x in series["round_payouts"]]
        cumulative = [int(x) for x in series["cumulative"]]
        assert cumulative == [sum(per_round[: i + 1]) for i in range(len(per_round))]
        assert int(series["entitled"]) == cumulative[-1] == claimed[series["address"]]
        assert int(series["claimed"]) == claimed[series["address"]]


def test_participants_show_stake_returned(api: TestClient, ledger_demo: LedgerDemo) -> None:
    body = api.get(f"/api/tasks/{ledger_demo.task_id}/participants").json()

    stake = DemoConfig().stake_tokens * 10**18
    assert sorted(p["address"] for p in body["items"]) == sorted(ledger_demo.addresses)
    for p in body["items"]:
        assert int(p["stake"]) == stake and int(p["withdrawn"]) == stake
        assert p["slashed"] == "0"


def test_claims_match_the_contract(
    api: TestClient, ledger_demo: LedgerDemo, chain: MarketplaceClient
) -> None:
    body = api.get(f"/api/tasks/{ledger_demo.task_id}/claims").json()

    assert body["total"] == len(body["items"]) > 0
    paid = {r: {e["participant"]: e["round_payout"] for e in detail["contributions"]}
            for r in (1, 2)
            for detail in [api.get(f"/api/tasks/{ledger_demo.task_id}/rounds/{r}").json()]}  # fmt: skip
    for claim in body["items"]:
        standing = chain.participant_round(ledger_demo.task_id, claim["round"], claim["account"])
        assert standing.claimed and standing.revealed
        assert claim["amount"] == paid[claim["round"]][claim["account"]] != "0"
        receipt = chain.w3.eth.get_transaction_receipt(claim["tx_hash"])
        assert receipt["blockNumber"] == claim["block_number"]
    pairs = [(c["account"], c["round"]) for c in body["items"]]
    assert len(pairs) == len(set(pairs))  # one claim per account and round


def test_audit_runs_the_audit_core_and_then_serves_the_cache(
    api: TestClient, ledger_demo: LedgerDemo
) -> None:
    first = api.get(f"/api/tasks/{ledger_demo.task_id}/audit")
    second = api.get(f"/api/tasks/{ledger_demo.task_id}/audit")

    body = first.json()
    assert first.status_code == 200, body
    assert body["ok"] is True and body["mismatches"] == []
    assert body["level"] in ("public", "full") and body["other_level"]
    assert [(r["status"], r["outcome"]) for r in body["rounds"]] == [("ok", "unchallenged")] * 2
    assert body["cached"] is False and second.json()["cached"] is True
    assert second.json()["rounds"] == body["rounds"]


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "offset=-1", "limit=abc",
                                   "offset=1000000001"])  # fmt: skip
def test_bad_paging_is_rejected(api: TestClient, ledger_demo: LedgerDemo, query: str) -> None:
    response = api.get(f"/api/tasks/{ledger_demo.task_id}/participants?{query}")

    assert response.status_code == 422


def test_paging_slices_the_list(api: TestClient, ledger_demo: LedgerDemo) -> None:
    whole = api.get(f"/api/tasks/{ledger_demo.task_id}/participants").json()
    pages = [api.get(f"/api/tasks/{ledger_demo.task_id}/participants?limit=2&offset={o}").json()
             for o in (0, 2, 4, 6)]  # fmt: skip

    assert [len(p["items"]) for p in pages] == [2, 2, 1, 0]
    assert [i for p in pages for i in p["items"]] == whole["items"]
    assert all(p["total"] == whole["total"] for p in pages)


@pytest.mark.parametrize("path", ["", "/rounds", "/rounds/1", "/participants", "/contributions",
                                  "/payouts", "/claims", "/audit"])  # fmt: skip
def test_unknown_task_is_404(api: TestClient, path: str) -> None:
    response = api.get(f"/api/tasks/999999{path}")

    assert response.status_code == 404 and "999999" in response.json()["detail"]


def test_unknown_round_is_404(api: TestClient, ledger_demo: LedgerDemo) -> None:
    response = api.get(f"/api/tasks/{ledger_demo.task_id}/rounds/3")

    assert response.status_code == 404


def test_openapi_schema_lists_every_endpoint(api: TestClient) -> None:
    schema = api.get("/openapi.json").json()

    paths = set(schema["paths"])
    expected = {"/api/health", "/api/tasks", "/api/tasks/{task_id}"} | {
        f"/api/tasks/{{task_id}}/{p}"
        for p in ("rounds", "rounds/{round_no}", "participants", "contributions", "payouts",
                  "claims", "audit")
    }  # fmt: skip
    assert expected == paths
    assert all(set(ops) == {"get"} for ops in schema["paths"].values())  # read-only


def test_dashboard_and_its_assets_are_served_locally(api: TestClient) -> None:
    page = api.get("/")

    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    for asset in ("/static/app.js", "/static/charts.js", "/static/style.css"):
        assert api.get(asset).status_code == 200


def test_indexed_events_fold_into_the_same_ledger_as_the_chain(
    demo_app: FastAPI, ledger_demo: LedgerDemo, chain: MarketplaceClient
) -> None:
    index = demo_app.state.service.index

    from_index = Ledger.from_events(ledger_demo.task_id, index.task_events(ledger_demo.task_id))
    from_chain = Ledger.from_events(ledger_demo.task_id, chain.task_events(ledger_demo.task_id))

    assert from_index == from_chain and from_index.events > 0
