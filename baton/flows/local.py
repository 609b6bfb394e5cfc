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
from baton.flows.checks import Knowledge, pattern_results, problems, schema_names
from baton.schemas import json_schemas


def local_knowledge(inp: FlowInput, env: Mapping[str, str] = os.environ) -> Knowledge:
    try:
        registry = load_agents(env=env)
        agents: dict[str, str | None] | None = {name: registry.get(name).output_schema for name in registry.names}
    except AgentConfigError:
        agents = None  # no agents file here: the run checks against the worker's
    schemas = json_schemas(schema_names(inp, agents or {}))
    functions = None
    if env.get(code.CODE_ENV):
        code.use(env=env)
        functions = {f.info.name: f.info for f in code.registered()}
    return Knowledge(agents=agents, schemas=schemas, functions=functions, patterns=pattern_results())


def local_problems(inp: FlowInput, env: Mapping[str, str] = os.environ) -> list[str]:
    return problems(inp, local_knowledge(inp, env))
