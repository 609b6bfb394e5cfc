"""Tools' contracts: what the agents file declares (per-tool settings, MCP
servers), a tool as a run sees it (recorded once per run), one tool call and
its result, and a person's approval of a dangerous one.

``baton/tools.py`` reads the declarations; ``activities/tools.py`` lists and
calls tools; ``workflows/runtime/tool_use.py`` runs an agent's turn loop.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from baton.contracts import MAX_SECONDS, NAME_PATTERN, Contract, RetrySpec

SERVER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"  # no dots: a server's tools are named "server.tool"


class ToolSettings(Contract):
    """``[tools."NAME"]`` in the agents file: what a tool's own declaration does not say,
    or says otherwise. Applies to every agent that lists the tool."""

    timeout_seconds: float | None = Field(default=None, gt=0, le=MAX_SECONDS, description="One attempt (default: the function's own; 60 s for MCP tools)")
    retry: RetrySpec | None = Field(default=None, description="Default: the function's own; 3 attempts for MCP tools")
    needs_approval: bool = Field(default=False, description="A person approves each call before it runs")
    description: str | None = Field(default=None, description="What the model is told the tool does")


class McpServerSpec(Contract):
    """``[mcp.NAME]`` in the agents file: an MCP server the worker starts (``command``,
    stdio) or reaches (``url``, streamable HTTP). ``${VAR}`` in ``headers`` and ``env``
    values is read from the worker's environment when it connects: secrets never
    enter the agents file's parsed form, a run's input or its history."""

    name: str = Field(pattern=SERVER_PATTERN)
    command: list[str] = Field(default_factory=list, description="Program and arguments of a stdio server")
    url: str | None = Field(default=None, description="Endpoint of a streamable HTTP server")
    headers: dict[str, str] = Field(default_factory=dict, description="HTTP headers; values may hold ${VAR}")
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment of a stdio server; values may hold ${VAR}")
    cwd: str | None = None
    connect_seconds: float = Field(default=30.0, gt=0, le=MAX_SECONDS, description="How long starting and greeting the server may take")

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerSpec:
        if bool(self.command) == bool(self.url):
            raise ValueError("give either command (a stdio server) or url (a streamable HTTP server)")
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, not {self.url!r}")
        return self


class ToolInfo(Contract):
    """A tool as a run sees it, recorded in its history when the run resolves its agents."""

    name: str = Field(description="Baton's name: a function's, or 'server.tool'")
    kind: Literal["function", "mcp"]
    description: str = ""
    parameters: dict[str, Any] = Field(description="JSON schema of its arguments")
    timeout_seconds: float = Field(gt=0, le=MAX_SECONDS)
    retry: RetrySpec
    needs_approval: bool = False
    server: str | None = Field(default=None, description="The MCP server (kind mcp)")
    remote_name: str | None = Field(default=None, description="The tool's name on its MCP server")

    @property
    def wire_name(self) -> str:
        """The name the model calls it by: OpenAI allows only [A-Za-z0-9_-] in function names."""
        return self.name.replace(".", "__")


class ToolsRequest(Contract):
    agent: str
    tools: list[str] = Field(description="The tools its spec lists (names, 'server.tool' or 'server.*')")


class ToolCallRequest(Contract):
    tool: ToolInfo
    arguments: dict[str, Any] = Field(default_factory=dict)
    agent: str
    step: str
    call_id: str = Field(description="The model's id for this call")
    approval: str | None = Field(default=None, description="The approval it waited for (tool-N), when it needed one")


class ToolCallResult(Contract):
    text: str = Field(description="What goes back to the model")
    is_error: bool = Field(default=False, description="The tool reported an error (an MCP tool's isError)")


class ToolDenial(Contract):
    """A waiting tool call denied by the run itself at its review deadline (in the memo:
    a person's ``deny_tool`` is in the history already, as an update)."""

    id: str = Field(description="The approval it waited for (tool-N)")
    reason: str
    by: str = Field(description="Who denied it: 'review deadline'")


class ToolApproval(Contract):
    """A tool call waiting for a person (``approve_tool`` / ``deny_tool``)."""

    id: str = Field(description="Name it in approve_tool / deny_tool")
    step: str
    agent: str
    tool: str
    arguments: dict[str, Any]
    asked_at: datetime


class ToolDecisionRequest(Contract):
    """``approve_tool`` / ``deny_tool``: which waiting call (default: the only one), and why."""

    id: str | None = Field(default=None, description="The waiting call's id (status.tool_approvals); default: the only one")
    reason: str | None = Field(default=None, max_length=2000, description="Told to the model when the call is denied")
    by: str | None = Field(default=None, max_length=200, description="Who decides, for the trace")


class ToolOutcome(Contract):
    """One tool call of a run as its status and result show it."""

    step: str
    agent: str
    tool: str
    call_id: str
    outcome: Literal["ok", "error", "invalid_arguments", "unknown_tool", "denied", "failed"]
    decided_by: str | None = Field(default=None, description="Who approved or denied it (needs_approval)")
    note: str | None = Field(default=None, description="The denial's reason, or the error")
