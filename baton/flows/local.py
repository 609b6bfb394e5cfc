"""A flow checked where it is started (``starter.py``, ``baton.client``), against
what this machine knows: its agents file, its output schemas, the code modules
named in BATON_CODE (when set) and Baton's patterns. What it does not know is
checked by the run itself against the worker's."""

from __future__ import annotations

import os
from collections.abc import Mapping

from baton import code
from baton.agents import AgentConfigError, load_agents
from baton.contracts import FlowInput
from baton.flows.checks import Knowledge, problems
from baton.patterns import all_patterns
from baton.schemas import resolve_schema


def local_knowledge(inp: FlowInput, env: Mapping[str, str] = os.environ) -> Knowledge:
    try:
        registry = load_agents(env=env)
        agents: dict[str, str | None] | None = {name: registry.get(name).output_schema for name in registry.names}
    except AgentConfigError:
        agents = None  # no agents file here: the run checks against the worker's
    names = {n.output_schema for n in inp.nodes if n.kind == "agent" and n.output_schema}
    names |= {schema for schema in (agents or {}).values() if schema}
    schemas = {}
    for name in names:
        try:
            schemas[name] = resolve_schema(name).model_json_schema()
        except ValueError:
            continue
    functions = None
    if env.get(code.CODE_ENV):
        code.use(env=env)
        functions = {f.info.name: f.info for f in code.registered()}
    return Knowledge(agents=agents, schemas=schemas, functions=functions,
                     patterns={p.name: p.result.model_json_schema() for p in all_patterns()})


def local_problems(inp: FlowInput, env: Mapping[str, str] = os.environ) -> list[str]:
    return problems(inp, local_knowledge(inp, env))
