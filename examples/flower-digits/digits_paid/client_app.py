"""The ClientApp: an ordinary Flower train function, made paid by fedmarket's mod and steps.

The SuperNode's node config names the data (``data-path``) and the fedmarket key
(``fedmarket-key``); FEDMARKET_HOME and FEDMARKET_KEY_PASSWORD come from its environment.

Flower starts a fresh ClientApp process for every message, so the ML code (torch) is
imported inside the functions that train: the reveal and claim steps, which must fit in the
task's reveal window, then start without it.
"""

from __future__ import annotations

from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from fedflower.client import add_paid_steps, fedmarket_mod

app = ClientApp(mods=[fedmarket_mod])


@app.train()
def train(msg: Message, context: Context) -> Message:
    """Train the received global model on this node's shard; reply with the new weights."""
    from digits_paid import task

    model = task.build_model()
    model.load_state_dict(msg.content["arrays"].to_torch_state_dict())
    data = task.load_data(str(context.node_config["data-path"]))
    config = msg.content["config"]
    loss = task.train(
        model,
        data,
        epochs=int(context.run_config["local-epochs"]),
        lr=float(context.run_config["lr"]),
        seed=int(config.get("server-round", 0)),
    )
    content = RecordDict(
        {
            "arrays": ArrayRecord(model.state_dict()),
            "metrics": MetricRecord({"train-loss": loss, "num-examples": len(data)}),
        }
    )
    return Message(content=content, reply_to=msg)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    """Loss and accuracy of the received model on this node's shard."""
    from digits_paid import task

    model = task.build_model()
    model.load_state_dict(msg.content["arrays"].to_torch_state_dict())
    data = task.load_data(str(context.node_config["data-path"]))
    loss, accuracy = task.evaluate(model, data)
    metrics = MetricRecord({"eval-loss": loss, "eval-acc": accuracy, "num-examples": len(data)})
    return Message(content=RecordDict({"metrics": metrics}), reply_to=msg)


add_paid_steps(app)  # the reveal and claim steps of a paid round
