"""MCP servers, reached through the official ``mcp`` SDK: one live session per
server per worker, opened on first use and opened again after it breaks (a
server that died, a call that hung). Errors name the server and never carry
the values of its headers or environment (they may be secrets).

A stdio server is a child process of the worker; ``python`` as its command means
the worker's own interpreter.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import sys
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx2
import structlog
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, Tool
from temporalio.exceptions import ApplicationError

from baton.activities.errors import redact
from baton.contracts import McpServerSpec, ToolCallResult

log = structlog.get_logger("baton.mcp")
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_RESULT_CHARS = 50_000  # what one tool result may put into the conversation (and the history)


class McpServerError(ApplicationError):
    """A server that cannot be reached, started or greeted, or that broke mid-call."""

    def __init__(self, server: str, problem: str, secrets: tuple[str, ...], retryable: bool = True) -> None:
        super().__init__(redact(f"MCP server {server!r}: {problem}", secrets), type="McpServerFailed",
                         non_retryable=not retryable)


def expand(value: str, env: Mapping[str, str], where: str) -> str:
    """``${VAR}`` replaced from the worker's environment; a missing one is an error naming it."""

    def lookup(match: re.Match[str]) -> str:
        if match.group(1) not in env:
            raise KeyError(f"{where} needs ${{{match.group(1)}}}, which is not set in the worker's environment")
        return env[match.group(1)]

    return VARIABLE.sub(lookup, value)


class _Session:
    """One server's live ``Client``, held open by a task of its own (the SDK's transports
    must be entered and left in one task) until closed or broken."""

    def __init__(self, spec: McpServerSpec, env: Mapping[str, str]) -> None:
        self.spec = spec
        self.secrets = _secrets(spec, env)
        self._target = _target(spec, env)
        self._ready: asyncio.Future[Client] = asyncio.get_running_loop().create_future()
        self._closing = asyncio.Event()
        self._task = asyncio.create_task(self._hold(), name=f"mcp-{spec.name}")

    async def _hold(self) -> None:
        try:
            async with Client(self._target) as client:
                self._ready.set_result(client)
                await self._closing.wait()
        except BaseException as err:  # noqa: BLE001 - a broken server must not take the worker down
            if not self._ready.done():
                self._ready.set_exception(err)
            log.warning("MCP session ended", server=self.spec.name, error=redact(_describe(err), self.secrets)[:300])

    @property
    def alive(self) -> bool:
        return not self._task.done()

    async def client(self) -> Client:
        try:
            return await asyncio.wait_for(asyncio.shield(self._ready), self.spec.connect_seconds)
        except TimeoutError:
            await self.close()
            raise McpServerError(self.spec.name, f"did not start and answer within {self.spec.connect_seconds:g}s",
                                 self.secrets) from None
        except (FileNotFoundError, PermissionError) as err:
            started = self.spec.command[0] if self.spec.command else self.spec.url
            raise McpServerError(self.spec.name, f"cannot start {started!r}: {err.strerror}", self.secrets,
                                 retryable=False) from None
        except Exception as err:  # noqa: BLE001
            raise McpServerError(self.spec.name, f"cannot connect: {_describe(err)}", self.secrets) from None

    async def close(self) -> None:
        self._closing.set()
        if not self._ready.done():
            self._task.cancel()
        try:
            await asyncio.wait_for(self._task, 5)
        except (TimeoutError, asyncio.CancelledError):
            self._task.cancel()


class McpConnections:
    """The worker's MCP servers by name (from the agents file's ``[mcp.NAME]`` tables)."""

    def __init__(self, servers: Mapping[str, McpServerSpec], env: Mapping[str, str] = os.environ) -> None:
        self._servers = dict(servers)
        self._env = env
        self._sessions: dict[str, _Session] = {}
        self._opening = asyncio.Lock()

    async def _session(self, server: str) -> _Session:
        if server not in self._servers:
            known = ", ".join(sorted(self._servers)) or "none"
            raise ApplicationError(f"unknown MCP server {server!r}; servers in the agents file: {known}",
                                   type="McpServerFailed", non_retryable=True)
        async with self._opening:
            session = self._sessions.get(server)
            if session is None or not session.alive:
                try:
                    session = self._sessions[server] = _Session(self._servers[server], self._env)
                except KeyError as err:  # a ${VAR} the worker does not have
                    raise ApplicationError(f"MCP server {server!r}: {err.args[0]}", type="McpServerFailed",
                                           non_retryable=True) from None
                except FileNotFoundError as err:
                    raise ApplicationError(f"MCP server {server!r}: cannot start {err.filename!r}: no such program "
                                           "(give a path, or put it on the worker's PATH)", type="McpServerFailed",
                                           non_retryable=True) from None
            return session

    async def list_tools(self, server: str) -> list[Tool]:
        session = await self._session(server)
        client = await session.client()
        tools: list[Tool] = []
        cursor: str | None = None
        try:
            while True:
                page = await asyncio.wait_for(client.list_tools(cursor=cursor), session.spec.connect_seconds)
                tools += page.tools
                cursor = page.next_cursor
                if not cursor:
                    return tools
        except Exception as err:  # noqa: BLE001
            await session.close()
            raise McpServerError(server, f"listing its tools failed: {_describe(err)}", session.secrets) from None

    async def call(self, server: str, tool: str, arguments: dict[str, Any], timeout_seconds: float) -> ToolCallResult:
        session = await self._session(server)
        client = await session.client()
        try:
            result = await asyncio.wait_for(client.call_tool(tool, arguments), timeout_seconds)
        except TimeoutError:
            await session.close()  # a hung server is started afresh for the next call
            raise McpServerError(server, f"tool {tool!r} did not answer within {timeout_seconds:g}s",
                                 session.secrets) from None
        except Exception as err:  # noqa: BLE001
            await session.close()
            raise McpServerError(server, f"tool {tool!r} failed: {_describe(err)}", session.secrets) from None
        return ToolCallResult(text=redact(_text_of(result), session.secrets)[:MAX_RESULT_CHARS], is_error=result.is_error)

    async def close(self) -> None:
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()


def _secrets(spec: McpServerSpec, env: Mapping[str, str]) -> tuple[str, ...]:
    """What must never leave the worker: each ${VAR} a server's headers and env read,
    and each whole value made with one."""
    templates = [*spec.headers.values(), *spec.env.values()]
    named = [env[var] for template in templates for var in VARIABLE.findall(template) if var in env]
    made = [expand(t, env, spec.name) for t in templates if VARIABLE.search(t)]
    return tuple(sorted(set(named + made), key=len, reverse=True))  # longest first: no half-redacted value


def _expanded(values: Mapping[str, str], env: Mapping[str, str], server: str) -> dict[str, str]:
    return {key: expand(value, env, f"MCP server {server!r} ({key})") for key, value in values.items()}


def _target(spec: McpServerSpec, env: Mapping[str, str]) -> StdioServerParameters | Any:
    if spec.url:
        headers = _expanded(spec.headers, env, spec.name)
        return _http_transport(spec.url, headers)
    program, *args = spec.command
    if program == "python":
        program = sys.executable
    elif shutil.which(program) is None and not os.path.exists(program):
        raise FileNotFoundError(2, "no such program", program)
    return StdioServerParameters(command=program, args=args, cwd=spec.cwd,
                                 env={**_inherited(env), **_expanded(spec.env, env, spec.name)})


def _inherited(env: Mapping[str, str]) -> dict[str, str]:
    """What a stdio server gets of the worker's environment: its paths and locale, not its keys."""
    return {key: value for key, value in env.items()
            if key in ("PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR", "SYSTEMROOT")}


@contextlib.asynccontextmanager
async def _http_transport(url: str, headers: dict[str, str]) -> AsyncIterator[Any]:
    """Streamable HTTP with the server's headers (the SDK takes them on its HTTP client)."""
    # The SDK's own timeouts for MCP: a server may hold a response stream open.
    async with (httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300)) as http,
                streamable_http_client(url, http_client=http) as streams):
        yield streams


def _text_of(result: CallToolResult) -> str:
    """A tool result as the model reads it: its text parts, or its structured content."""
    texts = [getattr(part, "text", None) or f"[{part.type} content]" for part in result.content]
    if texts:
        return "\n".join(texts)
    return str(result.structured_content) if result.structured_content is not None else ""


def _describe(err: BaseException) -> str:
    if isinstance(err, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in err.exceptions)
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
