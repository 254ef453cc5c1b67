"""The ServerApp: Flower's FedAvg, each round paid on-chain through fedmarket.

The SuperLink's host is the task's aggregator: its environment holds FEDMARKET_HOME (the
aggregator's content store and keystore) and FEDMARKET_KEY_PASSWORD; the run config names the
task, the aggregator's key and the validation set.
"""

from __future__ import annotations

from flwr.app import ConfigRecord, Context
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

from fedflower.strategy import PaidStrategy

app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    config = context.run_config
    nodes = int(config["min-nodes"])
    flower_strategy = FedAvg(
        fraction_train=float(config["fraction-train"]),
        fraction_evaluate=0.0,  # the market values every round on the validation set instead
        min_train_nodes=nodes,
        min_available_nodes=nodes,
    )
    strategy = PaidStrategy.from_run_config(flower_strategy, dict(config))
    strategy.start(
        grid=grid,
        num_rounds=int(config["num-server-rounds"]),
        train_config=ConfigRecord({"lr": float(config["lr"])}),
    )
    for round_, paid in sorted(strategy.rounds.items()):
        print(
            f"round {round_}: accuracy {paid.accuracy}, paid {paid.total_paid}, "
            f"kept {len(paid.accepted_bytes)} update(s), report {paid.report_cid}",
            flush=True,
        )
