"""Bad input to any pattern gives a clear error, not a hang: refused before the
run starts when the contract can tell, failed at once when an agent is unknown."""

from __future__ import annotations

import asyncio

import pytest

from baton import client as baton
from baton.patterns import all_patterns
from tests.conftest import real_worker

BAD_INPUTS = [
    ("pipeline", {"goal": "g", "stages": []}, "stages: List should have at least 1 item"),
    ("pipeline", {"goal": " ", "stages": [{"name": "a", "agent": "writer"}]}, "goal"),
    ("fan-out", {"goal": "g", "tasks": []}, "tasks: List should have at least 1 item"),
    ("fan-out", {"goal": "g", "tasks": [{"id": "a", "agent": "writer", "prompt": "p"}] * 2}, "duplicate task id"),
    ("map-reduce", {"goal": "g", "items": [], "mapper": "writer", "reducer": "editor"}, "items: List should have at least 1 item"),
    ("map-reduce", {"goal": "g", "items": ["x"], "mapper": "writer", "reducer": "editor", "max_history_events": 50_000},
     "max_history_events"),
    ("panel", {"question": "q", "experts": [{"name": "a", "agent": "writer", "role": "r"}]}, "experts: List should have at least 2"),
    ("router", {"input": "i", "routes": [], "default": "writer"}, "routes: List should have at least 1 item"),
    ("supervisor", {"goal": "g", "workers": []}, "workers: List should have at least 1 item"),
    ("hierarchical", {"goal": ""}, "goal"),
    ("planned", {"goal": "g", "max_parallel": 0}, "max_parallel"),
    ("review-loop", {"goal": "g", "workers": [], "max_rounds": 0}, "workers"),
    ("critics", {"goal": "g", "max_rounds": 0}, "max_rounds"),
    ("flow", {"goal": "g", "nodes": [], "start": "a"}, "nodes: List should have at least 1 item"),
    ("flow", {"goal": "g", "nodes": [{"id": "a", "kind": "robot"}], "start": "a"}, "nodes.0: Input tag 'robot'"),  # the example pattern: the same checks for free
    ("fan-out", {"goal": "g", "tasks": [{"id": "a", "agent": "writer", "prompt": "p"}], "surprise": 1}, "surprise: Extra inputs"),
]


@pytest.mark.parametrize(("pattern", "inp", "message"), BAD_INPUTS)
def test_bad_input_is_refused_with_the_field_named(pattern, inp, message):
    with pytest.raises(baton.BatonError, match=f"invalid {pattern} input") as caught:
        baton.parse_input(pattern, inp)
    assert message in str(caught.value)


def test_every_pattern_has_a_bad_input_case():
    assert {p.name for p in all_patterns()} <= {pattern for pattern, _, _ in BAD_INPUTS}


UNKNOWN_AGENT = {
    "fan-out": {"goal": "g", "tasks": [{"id": "a", "agent": "ghost", "prompt": "p"}]},
    "map-reduce": {"goal": "g", "items": ["x"], "mapper": "ghost", "reducer": "editor"},
    "panel": {"question": "q", "experts": [{"name": "a", "agent": "ghost", "role": "r"}, {"name": "b", "agent": "writer", "role": "r"}]},
    "router": {"input": "i", "routes": [{"agent": "ghost", "description": "d"}], "default": "writer"},
    "supervisor": {"goal": "g", "workers": ["ghost"]},
    "hierarchical": {"goal": "g", "synthesizer": "ghost"},
    "planned": {"goal": "g", "agents": ["ghost"]},
    "review-loop": {"goal": "g", "workers": ["ghost"]},
    "critics": {"goal": "g", "critics": ["ghost"]},
}


async def test_an_unknown_agent_fails_every_pattern_at_once_naming_it(dev_env, llm, task_queue):
    client = dev_env.client
    async with real_worker(client, llm, task_queue):
        handles = {name: await baton.start(client, baton.parse_input(name, inp), queue=task_queue)
                   for name, inp in UNKNOWN_AGENT.items()}
        for name, handle in handles.items():
            with pytest.raises(baton.BatonError, match="unknown agent 'ghost'"):
                await asyncio.wait_for(baton.wait_result(client, handle.id), 20)
    assert llm.requests == []  # nothing was asked of the model
