"""Agents are data: load them from a TOML file into validated ``AgentSpec``s.

The file has a ``[defaults]`` table every agent inherits, one
``[agents.NAME]`` table per agent, and an optional ``[prices."MODEL"]`` table
per model that turns token usage into cost. ``BATON_MODEL`` replaces the default model,
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

from baton.contracts import AgentSpec, ModelPrice, Usage, explain
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
                 prices: Mapping[str, ModelPrice] | None = None):
        self._agents = dict(agents)
        self.source = source
        self.prices = dict(prices or {})

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


def agents_file_from_env(env: Mapping[str, str] = os.environ) -> Path:
    return Path(env.get("BATON_AGENTS") or DEFAULT_AGENTS_FILE)


def load_agents(path: Path | None = None, env: Mapping[str, str] = os.environ) -> AgentRegistry:
    path = path or agents_file_from_env(env)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AgentConfigError(f"agents file not found: {path} (set BATON_AGENTS to another file)") from None
    except tomllib.TOMLDecodeError as err:
        raise AgentConfigError(f"{path}: invalid TOML: {err}") from None
    return parse_agents(document, source=str(path), env=env)


def parse_agents(document: Mapping[str, Any], source: str, env: Mapping[str, str] = os.environ) -> AgentRegistry:
    unknown_tables = set(document) - {"defaults", "agents", "prices"}
    if unknown_tables:
        raise AgentConfigError(
            f"{source}: unknown top-level tables {sorted(unknown_tables)}; expected [defaults], [agents.NAME] and [prices.MODEL]"
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
    return AgentRegistry(agents, source=source, prices=parse_prices(document.get("prices", {}), source))


def parse_prices(tables: Mapping[str, Any], source: str) -> dict[str, ModelPrice]:
    prices: dict[str, ModelPrice] = {}
    for model, table in tables.items():
        try:
            prices[model] = ModelPrice.model_validate(table)
        except ValidationError as err:
            raise AgentConfigError(f"{source}: price of model {model!r}: {explain(err)}") from None
    return prices

