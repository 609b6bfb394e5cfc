"""Agents' tools: which tools an agent of a run has (listed at its first call and
recorded, so replay never asks an MCP server again), and one tool call, each its
own activity retried as the tool says.

A tool is a registered code function (``baton.code``, the same as a flow's code
node) or a tool of an MCP server (``activities.mcp``); ``[tools."NAME"]`` in the
agents file sets its timeout, retries and ``needs_approval``.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Mapping

import structlog
from temporalio import activity
from temporalio.exceptions import ApplicationError

from baton import code
from baton.activities.code import call_function
from baton.activities.heartbeat import heartbeats
from baton.activities.mcp import McpConnections
from baton.agents import AgentRegistry
from baton.contracts import RetrySpec, ToolCallRequest, ToolCallResult, ToolInfo, ToolsRequest

log = structlog.get_logger("baton.tools")
WIRE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what OpenAI-compatible endpoints take as a function name
MCP_TIMEOUT_SECONDS = 60.0
MCP_RETRY = RetrySpec(maximum_attempts=3)


class ToolActivities:
    def __init__(self, registry: AgentRegistry, env: Mapping[str, str] = os.environ) -> None:
        self._registry = registry
        self.mcp = McpConnections(registry.servers, env)

    async def close(self) -> None:
        """Stop the MCP servers this worker started (after the worker stops)."""
        await self.mcp.close()

    @activity.defn(name="resolve_tools")
    async def resolve_tools(self, request: ToolsRequest) -> list[ToolInfo]:
        """An agent's tools, as its spec lists them (an MCP server's ``server.*``: all its
        tools; each server listed once). A tool nobody registered or no server has fails for good."""
        listed: dict[str, list[ToolInfo]] = {}
        tools: list[ToolInfo] = []
        for name in request.tools:
            tools += [self._with_settings(info) for info in await self._resolve(name, listed) if info not in tools]
        return tools

    async def _resolve(self, name: str, listed: dict[str, list[ToolInfo]]) -> list[ToolInfo]:
        if "." not in name:
            try:
                fn = code.find(name).info
            except KeyError as err:
                raise ApplicationError(f"tool {name!r}: {err.args[0]}", type="UnknownTool",
                                       non_retryable=True) from None
            return [ToolInfo(name=fn.name, kind="function", description=fn.description, parameters=fn.parameters,
                             timeout_seconds=fn.timeout_seconds, retry=fn.retry)]
        server, tool = name.split(".", 1)
        if server not in listed:
            listed[server] = [ToolInfo(name=f"{server}.{t.name}", kind="mcp", description=t.description or "",
                                       parameters=t.input_schema, timeout_seconds=MCP_TIMEOUT_SECONDS, retry=MCP_RETRY,
                                       server=server, remote_name=t.name)
                              for t in await self.mcp.list_tools(server)]
        found = [info for info in listed[server] if tool == "*" or info.remote_name == tool]
        unnamable = [info.name for info in found if not WIRE_NAME.fullmatch(info.wire_name)]
        if unnamable and tool != "*":
            raise ApplicationError(f"MCP tool {name!r} cannot be offered to a model: function names allow only letters, "
                                   "digits, _ and -, 64 at most (with the server's name)", type="UnknownTool",
                                   non_retryable=True)
        if unnamable:
            log.warning("MCP tools left out: their names cannot be offered to a model", server=server, tools=unnamable)
            found = [info for info in found if info.name not in unnamable]
        if not found:
            offered = ", ".join(info.remote_name or "" for info in listed[server]) or "none"
            raise ApplicationError(f"MCP server {server!r} has no tool {tool!r}; its tools: {offered}",
                                   type="UnknownTool", non_retryable=True)
        return found

    def _with_settings(self, info: ToolInfo) -> ToolInfo:
        settings = self._registry.tools.get(info.name)
        if settings is None:
            return info
        return info.model_copy(update={key: value for key, value in {
            "timeout_seconds": settings.timeout_seconds, "retry": settings.retry,
            "needs_approval": settings.needs_approval, "description": settings.description}.items() if value is not None})

    @activity.defn(name="call_tool")
    async def call_tool(self, request: ToolCallRequest) -> ToolCallResult:
        """One tool call. Bad arguments fail at once (``InvalidArguments``: the model gets
        the error back); anything else fails this attempt and Temporal retries it."""
        info = activity.info()
        tool = request.tool
        with structlog.contextvars.bound_contextvars(workflow_id=info.workflow_id, run_id=info.workflow_run_id,
                                                     agent=request.agent, stage=request.step, tool=tool.name,
                                                     attempt=info.attempt):
            log.debug("tool call started")
            async with heartbeats():  # a dead worker's call is retried after the agent's heartbeat timeout
                answer = await self._call(request)
            log.info("tool call finished", is_error=answer.is_error, chars=len(answer.text))
            return answer

    async def _call(self, request: ToolCallRequest) -> ToolCallResult:
        tool = request.tool
        if tool.kind != "function":
            return await self.mcp.call(tool.server or "", tool.remote_name or "", request.arguments, tool.timeout_seconds)
        try:
            result = await asyncio.wait_for(call_function(tool.name, request.arguments, f"{request.agent} · {request.step}"),
                                            tool.timeout_seconds)
        except TimeoutError:  # a blocking function's thread cannot be stopped: it is left to finish
            raise ApplicationError(f"{tool.name} did not finish within {tool.timeout_seconds:g}s",
                                   type="ToolTimeout") from None
        return ToolCallResult(text=result.text)

