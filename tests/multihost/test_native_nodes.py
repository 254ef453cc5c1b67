"""fedmarket's own nodes on separate hosts, every artifact crossing hosts through gateways.

Hosts: the chain; the aggregator (`fedmarket coordinate`, the requester's tools and a
gateway); three participants (`fedmarket join` and a gateway each); an auditor with an empty
store. Participants read the spec and each round's global model through the aggregator's
gateway; the aggregator reads each update through the participants' gateways, the first of
which lies (it serves participant 0's blocks with a byte flipped): the corruption is detected
and the next source used. In the last round, after every reveal, the aggregator's host is
"restarted" (all its processes killed, and in namespaces its link cut and restored); the
restarted coordinator resumes from the chain and settles the round once. The auditor then
audits OK from its own host.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from federation_kit import (
    AGGREGATOR,
    FIRST_PARTICIPANT,
    REQUESTER,
    add_key,
    create_task,
    probe,
    save,
    share_chain,
    split_digits,
    start_chain,
)
from hostkit import ROOT, Cluster, Host, netns_unavailable, wait_for

from marketplace.units import units_of

pytestmark = [pytest.mark.anvil, pytest.mark.slow]

PARTICIPANTS = ("p0", "p1", "p2")
ROUNDS = 2
COMMIT_S, REVEAL_S = 8, 8
LIAR = str(ROOT / "tests" / "gateway_kit.py")
PY = sys.executable


@pytest.mark.parametrize("mode", ["loopback", pytest.param("netns", marks=pytest.mark.multihost)])
def test_native_nodes_across_hosts(tmp_path: Path, mode: str) -> None:
    if mode == "netns" and (reason := netns_unavailable()):
        pytest.skip(reason)
    cluster = Cluster(tmp_path, ["chain", "agg", *PARTICIPANTS, "auditor"], netns=mode == "netns")
    try:
        _run(cluster)
    finally:
        cluster.close()


def _gateway(cluster: Cluster, host: Host) -> tuple[str, subprocess.Popen[bytes]]:
    """`fedmarket ipfs serve` on ``host``: its URL and process."""
    url = host.url("gateway", 8080)
    proc = cluster.start(host, [PY, "-m", "fedmarket.cli", "ipfs", "serve", "--host",
                                host.address, "--port", url.rsplit(":", 1)[1]],
                         log=f"gateway-{host.name}")  # fmt: skip
    return url, proc


def _run(cluster: Cluster) -> None:
    chain, agg, auditor = cluster.hosts["chain"], cluster.hosts["agg"], cluster.hosts["auditor"]
    parts = [cluster.hosts[p] for p in PARTICIPANTS]
    start_chain(cluster, chain)
    share_chain(chain, [agg, *parts, auditor])
    add_key(agg, "requester", REQUESTER)
    aggregator = add_key(agg, "aggregator", AGGREGATOR)
    addresses = [add_key(h, "participant", FIRST_PARTICIPANT + i) for i, h in enumerate(parts)]
    validation, shards = split_digits(len(parts))
    val_path = save(validation, agg.home / "validation.npz")
    data = [save(s, h.home / "data.npz") for h, s in zip(parts, shards, strict=True)]
    task_id = create_task(cluster, agg, val_path, aggregator, rounds=ROUNDS, commit=COMMIT_S,
                          reveal=REVEAL_S)  # fmt: skip

    agg_gateway, agg_gateway_proc = _gateway(cluster, agg)
    gateways = [_gateway(cluster, h)[0] for h in parts]
    liar = parts[0].url("liar", 8081)
    cluster.start(parts[0], [PY, LIAR, "--store", str(parts[0].home / "ipfs"), "--host",
                             parts[0].address, "--port", liar.rsplit(":", 1)[1],
                             "--mode", "corrupt"], log="liar")  # fmt: skip
    joins = [
        cluster.start(
            h,
            [
                PY,
                "-m",
                "fedmarket.cli",
                "join",
                "--task",
                str(task_id),
                "--key",
                "participant",
                "--data",
                path,
                "--quiet",
                "--timeout",
                "600",
            ],
            log=f"join-{h.name}",
            env={"FEDMARKET_IPFS_GATEWAYS": agg_gateway},
        )
        for h, path in zip(parts, data, strict=True)
    ]
    wait_for(lambda: all("joined task" in cluster.log(f"join-{h.name}") for h in parts),
             timeout=120, what="every participant to join")  # fmt: skip

    coordinate = [PY, "-m", "fedmarket.cli", "coordinate", "--task", str(task_id), "--key",
                  "aggregator", "--validation", val_path]  # fmt: skip
    sources = {"FEDMARKET_IPFS_GATEWAYS": ",".join([liar, *gateways])}
    coordinator = cluster.start(agg, coordinate, log="coordinator", env=sources)

    # The last round: once everyone has revealed, restart the aggregator's host.
    wait_for(lambda: all(f"round {ROUNDS}: revealed" in cluster.log(f"join-{h.name}")
                         for h in parts), timeout=240, what=f"round {ROUNDS}'s reveals")  # fmt: skip
    assert f"round {ROUNDS}: settled" not in cluster.log("coordinator")
    for proc in (coordinator, agg_gateway_proc):
        cluster.stop(proc, signal.SIGKILL)
    if cluster.netns:
        cluster.cut(agg.name)
        cluster.restore(agg.name)
    _gateway(cluster, agg)
    before = len(cluster.log("coordinator"))
    coordinator = cluster.start(agg, coordinate, log="coordinator", env=sources)

    for proc in joins:
        assert proc.wait(timeout=300) == 0, cluster.log(f"join-{parts[joins.index(proc)].name}")
    assert coordinator.wait(timeout=120) == 0, cluster.log("coordinator")[-3000:]
    log = cluster.log("coordinator")
    assert f"round {ROUNDS}: settled" in log[before:]  # the restarted coordinator settled it
    assert "does not hash" in log and "trying the next one" in log  # the liar was caught

    state = probe(cluster, auditor, task_id)
    assert [e["round"] for e in state["events"] if e["name"] == "RoundSettled"] == [1, 2]
    assert not [e for e in state["events"] if e["name"] == "ParticipantSlashed"]
    for h in parts:
        assert "claimed" in cluster.log(f"join-{h.name}")

    cluster.fedmarket(agg, "task", "publish-validation", str(task_id), "--key", "requester",
                      "--validation", val_path)  # fmt: skip
    assert not (auditor.home / "ipfs").exists()  # the auditor starts with an empty store
    audit = cluster.fedmarket(auditor, "audit", "--task", str(task_id), "--json",
                              env={"FEDMARKET_IPFS_GATEWAYS": agg_gateway})  # fmt: skip
    result = json.loads(audit.stdout)
    assert result["ok"] is True, result["mismatches"]
    assert [r["status"] for r in result["rounds"]] == ["ok"] * ROUNDS
    payouts = {p["account"].lower(): p for p in result["payouts"]}
    assert addresses[0].lower() in payouts  # the update the liar corrupted was still used
    for p in payouts.values():
        assert units_of(p["claimed"]) == units_of(p["entitled"]) > 0  # amount objects
