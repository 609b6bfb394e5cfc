"""MCP servers the tool tests start (the official ``mcp`` SDK, as a user writes
one): a stdio server whose tools misbehave on purpose, and the same server over
streamable HTTP behind a bearer token.

    python -m tests.mcp_servers                  # stdio
    python -m tests.mcp_servers --http PORT      # HTTP; MCP_TOKEN holds the token it accepts
"""

from __future__ import annotations

import argparse
import asyncio
import os

import uvicorn
from mcp.server.mcpserver import MCPServer

server = MCPServer("trouble")
_seen: dict[str, str] = {}  # the last Authorization header the HTTP server accepted


@server.tool()
def echo(text: str) -> str:
    """Say the text back."""
    return f"echo: {text}"


@server.tool()
def die() -> str:
    """The server process ends mid-call."""
    os._exit(3)


@server.tool()
async def hang() -> str:
    """Never answers."""
    await asyncio.sleep(3600)
    return "unreachable"


@server.tool()
def leak() -> str:
    """A careless tool that answers with the credentials it was called with."""
    return f"I was called with {_seen.get('authorization', 'nothing')} and env {os.environ.get('MCP_TOKEN', 'unset')}"


@server.tool()
def fail_leaking() -> str:
    """A careless tool whose error carries the credentials."""
    raise RuntimeError(f"upstream refused {_seen.get('authorization', 'nothing')}")


def guarded(app, token: str):
    """Only requests bearing the token reach the server."""

    async def asgi(scope, receive, send):
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            if headers.get("authorization") != f"Bearer {token}":
                await send({"type": "http.response.start", "status": 401, "headers": []})
                await send({"type": "http.response.body", "body": b"unauthorized"})
                return
            _seen["authorization"] = headers["authorization"]
        await app(scope, receive, send)

    return asgi


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", type=int, help="serve streamable HTTP on this loopback port")
    port = parser.parse_args().http
    if port is None:
        server.run("stdio")
    else:
        uvicorn.run(guarded(server.streamable_http_app(), os.environ["MCP_TOKEN"]), host="127.0.0.1", port=port,
                    log_level="warning")
