"""Setting up a federation across a :class:`hostkit.Cluster`: chain, keys, data, a task.

Run as a script on a host (``python tests/federation_kit.py probe --task N``) it prints what
the chain says about a task as one JSON object: the tests read the chain only from inside
the federation's own hosts, never across namespaces from the test process.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hostkit import PASSWORD, Cluster, Host

ARBITER, REQUESTER, AGGREGATOR, FIRST_PARTICIPANT = 0, 1, 2, 3
PROBE = str(Path(__file__).resolve())


@dataclass
class Federation:
    """What the tests need to know about the chain and the task."""

    rpc_url: str
    marketplace: str
    task_id: int = 0


def start_chain(cluster: Cluster, host: Host) -> Federation:
    """`fedmarket devnet up` on ``host``, listening on its address."""
    port = host.port("rpc", 8545)
    cluster.fedmarket(host, "devnet", "up", "--host", host.address, "--port", str(port))
    deployments = json.loads((host.home / "devnet" / "deployments.json").read_text())
    return Federation(deployments["rpc_url"], deployments["contracts"]["Marketplace"])


def share_chain(chain: Host, hosts: list[Host]) -> None:
    """Give each host the public chain configuration (endpoint, contract addresses)."""
    source = chain.home / "devnet" / "deployments.json"
    for host in hosts:
        target = host.home / "devnet" / "deployments.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)


def add_key(host: Host, name: str, dev_index: int) -> str:
    """A keystore ``name`` on ``host`` holding dev account ``dev_index``; its address."""
    from devnet.accounts import dev_account
    from marketplace.chain.keystore import create_account

    account = dev_account(dev_index)
    create_account(host.home / "keystore", PASSWORD, private_key=bytes(account.key), name=name)
    return str(account.address)


def split_digits(n: int, seed: int = 3) -> tuple[Any, list[Any]]:
    """Validation set and ``n`` non-IID shards of digits."""
    from participant.data import dirichlet_partition, load_digits, train_validation_split

    train, validation = train_validation_split(load_digits(), 0.2, seed=seed)
    parts = dirichlet_partition(train.y, n, 1.0, seed=seed)
    return validation, [train.subset(np.sort(p)) for p in parts]


def save(dataset: Any, path: Path) -> str:
    from marketplace.protocol.dataset import save_npz

    path.parent.mkdir(parents=True, exist_ok=True)
    return str(save_npz(dataset, path))


def create_task(
    cluster: Cluster,
    host: Host,
    validation: str,
    aggregator: str,
    *,
    rounds: int,
    commit: int,
    reveal: int,
    challenge: int = 2,
) -> int:
    """The requester (key ``requester`` on ``host``) escrows a digits task; its id."""
    from devnet.accounts import dev_account

    arbiter = str(dev_account(ARBITER).address)
    done = cluster.fedmarket(
        host, "task", "create", "--key", "requester", "--aggregator", aggregator,
        "--arbiter", arbiter,
        "--validation", validation, "--rounds", str(rounds), "--round-budget", "100",
        "--stake", "1", "--commit-window", str(commit), "--reveal-window", str(reveal),
        "--challenge-window", str(challenge), "--settle-window", "600", "--epochs", "5",
        "--lr", "0.1", "--json",
    )  # fmt: skip
    return int(json.loads(done.stdout)["task_id"])


def play_native(
    cluster: Cluster, *, rounds: int, commit: int, reveal: int, participants: int = 3
) -> dict[str, Any]:
    """A whole task with `fedmarket join`/`coordinate` processes, no faults.

    With one host in the cluster everything shares its home (the single-home layout);
    with hosts ``chain``, ``agg``, ``p0``... every artifact crosses hosts through gateways.
    Returns the task id, the auditor-free chain view with block times, and the seconds
    the coordinator ran.
    """
    import time

    names = list(cluster.hosts)
    single = len(names) == 1
    chain = cluster.hosts[names[0]] if single else cluster.hosts["chain"]
    agg = chain if single else cluster.hosts["agg"]
    parts = (
        [chain] * participants if single else [cluster.hosts[f"p{i}"] for i in range(participants)]
    )
    start_chain(cluster, chain)
    if not single:
        share_chain(chain, [agg, *parts])
    add_key(agg, "requester", REQUESTER)
    aggregator = add_key(agg, "aggregator", AGGREGATOR)
    for i, host in enumerate(parts):
        add_key(host, f"participant{i}", FIRST_PARTICIPANT + i)
    validation, shards = split_digits(participants)
    val_path = save(validation, agg.home / "validation.npz")
    data = [
        save(s, h.home / f"data{i}.npz") for i, (h, s) in enumerate(zip(parts, shards, strict=True))
    ]
    task_id = create_task(
        cluster, agg, val_path, aggregator, rounds=rounds, commit=commit, reveal=reveal
    )
    py = sys.executable
    serve: list[str] = []
    agg_env: dict[str, str] = {}
    join_env: dict[str, str] = {}
    if not single:
        for host in [agg, *parts]:
            url = host.url("gateway", 8080)
            cluster.start(host, [py, "-m", "fedmarket.cli", "ipfs", "serve", "--host", host.address,
                                 "--port", url.rsplit(":", 1)[1]], log=f"gateway-{host.name}")  # fmt: skip
            serve.append(url)
        join_env = {"FEDMARKET_IPFS_GATEWAYS": serve[0]}
        agg_env = {"FEDMARKET_IPFS_GATEWAYS": ",".join(serve[1:])}
    joins = [
        cluster.start(
            h,
            [
                py,
                "-m",
                "fedmarket.cli",
                "join",
                "--task",
                str(task_id),
                "--key",
                f"participant{i}",
                "--data",
                path,
                "--quiet",
                "--timeout",
                "600",
            ],
            log=f"join-{i}",
            env=join_env,
        )
        for i, (h, path) in enumerate(zip(parts, data, strict=True))
    ]
    deadline = time.monotonic() + 180
    while not all("joined task" in cluster.log(f"join-{i}") for i in range(participants)):
        if time.monotonic() > deadline:
            raise AssertionError("participants did not join")
        time.sleep(0.3)
    started = time.monotonic()
    coordinator = cluster.start(agg, [py, "-m", "fedmarket.cli", "coordinate", "--task",
                                      str(task_id), "--key", "aggregator", "--validation",
                                      val_path], log="coordinator", env=agg_env)  # fmt: skip
    if coordinator.wait(timeout=600) != 0:
        raise AssertionError(cluster.log("coordinator")[-2000:])
    ran = time.monotonic() - started
    for proc in joins:
        proc.wait(timeout=300)
    return {
        "task_id": task_id,
        "coordinator_s": ran,
        "agg": agg,
        "state": probe(cluster, agg, task_id, times=True),
    }


def probe(cluster: Cluster, host: Host, task_id: int, *, times: bool = False) -> dict[str, Any]:
    """The chain's view of the task, read from ``host`` (``times``: block timestamps too)."""
    argv = [sys.executable, PROBE, "probe", "--task", str(task_id)]
    done = cluster.run(host, [*argv, "--times"] if times else argv)
    if done.returncode != 0:
        raise AssertionError(f"probe on {host.name} failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _probe_main(task_id: int, times: bool) -> None:
    from marketplace.chain.factory import make_client
    from marketplace.settings import Settings

    client = make_client(Settings.from_env())
    events = client.task_events(task_id)
    joined = [str(e.args["participant"]) for e in events if e.name == "ParticipantJoined"]
    out = {
        "phase": client.phase(task_id).name,
        "events": [
            {
                "name": e.name,
                "round": e.args.get("round"),
                "participant": str(e.args.get("participant", "")),
                "time": int(client.w3.eth.get_block(e.block_number)["timestamp"])
                if times
                else None,
            }
            for e in events
        ],
        "claimed": {
            a: str(
                sum(
                    int(e.args["amount"])
                    for e in events
                    if e.name == "Claimed" and e.args["account"] == a
                )
            )
            for a in joined
        },
        "withdrawn": {a: bool(client.participant(task_id, a)["withdrawn"]) for a in joined},
    }
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["probe"])
    parser.add_argument("--task", type=int, required=True)
    parser.add_argument("--times", action="store_true")
    args = parser.parse_args()
    _probe_main(args.task, args.times)


if __name__ == "__main__":
    main()
