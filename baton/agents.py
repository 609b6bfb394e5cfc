"""Agents are data: load them from a TOML file into validated ``AgentSpec``s.

The file has a ``[defaults]`` table every agent inherits, one
``[agents.NAME]`` table per agent, an optional ``[prices."MODEL"]`` table
per model that turns token usage into cost, and for agents with tools
``[tools."NAME"]`` settings and ``[mcp.SERVER]`` servers (docs/tools.md).
``BATON_AGENTS`` may name several files separated by ``:``: each later one adds
to or overrides the ones before, table by table (the shipped team plus your tools). ``BATON_MODEL`` replaces the default model,
so one variable points the whole team at another model; ``BATON_MAX_TOKENS``
replaces the default answer length.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from baton.contracts import AgentSpec, McpServerSpec, ModelPrice, ToolSettings, Usage, explain
from baton.schemas import resolve_schema

# The team shipped with Baton: the checkout's agents.toml (baton/agents.toml links to
# it), or the copy packaged in an installed wheel.
DEFAULT_AGENTS_FILE = Path(__file__).resolve().parent / "agents.toml"
# Server data, pid and log files, artifacts: under the folder commands run in.
DEFAULT_DATA_DIR = Path("data")


class AgentConfigError(ValueError):
    """The agents file is missing, unreadable or invalid; the message says where."""


class UnknownAgentError(KeyError):
    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class AgentRegistry:
    def __init__(self, agents: Mapping[str, AgentSpec], source: str = "<memory>",
                 prices: Mapping[str, ModelPrice] | None = None, tools: Mapping[str, ToolSettings] | None = None,
                 servers: Mapping[str, McpServerSpec] | None = None):
        self._agents = dict(agents)
        self.source = source
        self.prices = dict(prices or {})
        self.tools = dict(tools or {})  # per-tool settings, by tool name
        self.servers = dict(servers or {})  # MCP servers, by name

    def priced(self, model: str, usage: Usage) -> Usage:
        """``usage`` with its cost at ``model``'s price (0 when the model has no price)."""
        price = self.prices.get(model)
        return usage.model_copy(update={"cost_usd": price.cost(usage) if price else 0.0})

    @property
    def names(self) -> list[str]:
        return sorted(self._agents)

    def get(self, name: str) -> AgentSpec:
        try:
            return self._agents[name]
        except KeyError:
            raise UnknownAgentError(
                f"unknown agent {name!r} (agents in {self.source}: {', '.join(self.names)})"
            ) from None


def agents_files_from_env(env: Mapping[str, str] = os.environ) -> list[Path]:
    """The agents files, in layering order (BATON_AGENTS, ``:``-separated)."""
    named = [part for part in (env.get("BATON_AGENTS") or "").split(os.pathsep) if part.strip()]
    return [Path(part.strip()) for part in named] or [DEFAULT_AGENTS_FILE]


def load_agents(path: Path | None = None, env: Mapping[str, str] = os.environ) -> AgentRegistry:
    paths = [path] if path else agents_files_from_env(env)
    document: dict[str, Any] = {}
    for each in paths:
        try:
            layer = tomllib.loads(each.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise AgentConfigError(f"agents file not found: {each} (set BATON_AGENTS to another file)") from None
        except tomllib.TOMLDecodeError as err:
            raise AgentConfigError(f"{each}: invalid TOML: {err}") from None
        document = _layered(document, layer)
    return parse_agents(document, source=os.pathsep.join(map(str, paths)), env=env)


def _layered(base: dict[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
    """``layer`` over ``base``: tables merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in layer.items():
        merged[key] = _layered(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def parse_agents(document: Mapping[str, Any], source: str, env: Mapping[str, str] = os.environ) -> AgentRegistry:
    unknown_tables = set(document) - {"defaults", "agents", "prices", "tools", "mcp"}
    if unknown_tables:
        raise AgentConfigError(
            f"{source}: unknown top-level tables {sorted(unknown_tables)}; expected [defaults], [agents.NAME], "
            "[prices.MODEL], [tools.NAME] and [mcp.SERVER]"
        )
    defaults = dict(document.get("defaults", {}))
    if env.get("BATON_MODEL"):
        defaults["model"] = env["BATON_MODEL"]
    if env.get("BATON_MAX_TOKENS"):
        defaults["max_tokens"] = env["BATON_MAX_TOKENS"]
    tables = document.get("agents", {})
    if not tables:
        raise AgentConfigError(f"{source}: no agents defined; add an [agents.NAME] table")
    agents: dict[str, AgentSpec] = {}
    for name, table in tables.items():
        merged = {**defaults, **table, "name": name}
        merged["retry"] = {**defaults.get("retry", {}), **table.get("retry", {})}
        try:
            spec = AgentSpec.model_validate(merged)
            if spec.output_schema:
                resolve_schema(spec.output_schema)
        except (ValidationError, ValueError) as err:
            detail = explain(err) if isinstance(err, ValidationError) else str(err)
            raise AgentConfigError(f"{source}: agent {name!r}: {detail}") from None
        agents[name] = spec
    for name, spec in agents.items():
        unknown = [f for f in spec.fallback_agents if f not in agents]
        if unknown or name in spec.fallback_agents:
            problem = f"unknown fallback agents {unknown}" if unknown else "an agent cannot be its own fallback"
            raise AgentConfigError(f"{source}: agent {name!r}: {problem}")
    servers = _parse_tables(document.get("mcp", {}), McpServerSpec, source, "MCP server", named=True)
    for name, spec in agents.items():
        for tool in spec.tools:
            server = tool.split(".", 1)[0] if "." in tool else None
            if server is not None and server not in servers:
                raise AgentConfigError(f"{source}: agent {name!r}: tool {tool!r} names MCP server {server!r}, "
                                       f"which has no [mcp.{server}] table")
    return AgentRegistry(agents, source=source, prices=_parse_tables(document.get("prices", {}), ModelPrice, source, "price of model"),
                         tools=_parse_tables(document.get("tools", {}), ToolSettings, source, "tool"), servers=servers)


def _parse_tables(tables: Mapping[str, Any], model: type[Any], source: str, what: str, named: bool = False) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for name, table in tables.items():
        try:
            parsed[name] = model.model_validate({**table, "name": name} if named else table)
        except ValidationError as err:
            raise AgentConfigError(f"{source}: {what} {name!r}: {explain(err)}") from None
    return parsed
