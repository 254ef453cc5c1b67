"""The participant node against a dishonest task on a real Anvil (issue 10, scenarios 1, 8, 9).

A node checks a task's terms before it stakes: it refuses slashing above its policy, windows
too short to land a transaction in, and a role it already holds in the task. And when the
aggregator goes silent, the node ends the task itself so its stake comes back.
"""

from __future__ import annotations

import pytest
from fmkit import TOKEN, Devnet, make_scenario

from marketplace.chain.structs import Phase
from marketplace.errors import ProtocolError
from marketplace.roles.tasks import Windows
from participant.behaviours import Honest
from participant.node import JoinPolicy, ParticipantNode

pytestmark = pytest.mark.anvil


def node(s, client, policy: JoinPolicy | None = None) -> ParticipantNode:  # type: ignore[no-untyped-def]
    return ParticipantNode(client, s.devnet.store(), s.task_id, s.shards[0], Honest(),
                           policy=policy, log=lambda _m: None)  # fmt: skip


@pytest.mark.parametrize(
    ("policy", "says"),
    [
        (JoinPolicy(max_slash_bps=1000), "one missed reveal costs 50 % of the stake"),
        (JoinPolicy(latency_s=120), "its commit window of 30 s is too short"),
    ],
    ids=["slashing-above-policy", "window-too-short"],
)
def test_a_node_refuses_terms_it_should_not_accept_before_staking(
    devnet: Devnet, policy: JoinPolicy, says: str
) -> None:
    s = make_scenario(devnet, n=1, rounds=1, seed=31)  # slash_bps 5000, windows of 30 s
    client = s.client(0)
    before = client.balance()

    with pytest.raises(ProtocolError, match=says):
        node(s, client, policy).ensure_joined()

    assert not client.participant(s.task_id, client.address)["joined"]
    assert client.balance() == before  # nothing staked


@pytest.mark.parametrize("role", [0, 2], ids=["arbiter", "aggregator"])
def test_a_node_refuses_to_join_a_task_it_judges_or_aggregates(devnet: Devnet, role: int) -> None:
    s = make_scenario(devnet, n=1, rounds=1, seed=32)
    client = devnet.client(role)

    with pytest.raises(ProtocolError, match="cannot also be paid as its participant"):
        node(s, client).ensure_joined()
    assert not client.participant(s.task_id, client.address)["joined"]


def test_a_node_winds_down_a_task_whose_aggregator_went_silent(devnet: Devnet) -> None:
    windows = Windows(commit=30, reveal=30, settle=60, challenge=30, resolve=30, claim=600)
    s = make_scenario(devnet, n=1, rounds=2, seed=33, windows=windows)
    participant = node(s, s.client(0))
    participant.ensure_joined()
    devnet.client(2).open_round(s.task_id, s.created.initial_model_cid)  # then silence
    assert participant.wind_down_if_overdue() is False  # nothing is late yet

    devnet.advance(windows.commit + windows.reveal + windows.settle + 1)
    before = s.client(0).balance()

    assert participant.wind_down_if_overdue() is True
    assert devnet.client(1).phase(s.task_id) == Phase.ENDED
    participant.collect()  # the stake comes back in full: the participant did nothing wrong
    assert s.client(0).balance() - before == TOKEN
