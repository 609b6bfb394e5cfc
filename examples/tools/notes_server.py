"""A small MCP server (stdio) holding notes, for the tool examples and tests:
``lookup`` reads, ``add_note`` writes (the agents layer makes it need a person's
approval). Built with the official ``mcp`` SDK; the notes live in this process.

    python -m examples.tools.notes_server     # a worker starts it from [mcp.notes]
"""

from __future__ import annotations

import os

from mcp.server.mcpserver import MCPServer

server = MCPServer("notes", instructions="Notes about tides, and a place to file new ones.")

NOTES: dict[str, list[str]] = {
    "tides": ["The moon's pull raises two bulges of water; the earth turns through both each day."],
    "moon": ["The moon's tidal pull is about twice the sun's."],
}


@server.tool()
def lookup(topic: str) -> str:
    """The notes filed under a topic (one word, e.g. 'tides')."""
    found = NOTES.get(topic.strip().lower())
    return "\n".join(found) if found else f"no notes on {topic!r}; topics: {', '.join(sorted(NOTES))}"


@server.tool()
def add_note(topic: str, text: str) -> str:
    """File a note under a topic."""
    NOTES.setdefault(topic.strip().lower(), []).append(text)
    return f"filed under {topic!r} ({len(NOTES[topic.strip().lower()])} notes)"


@server.tool()
def whoami() -> str:
    """Which token this server was started with (a test of the worker's ${VAR} headers and env)."""
    return "token set" if os.environ.get("NOTES_TOKEN") else "no token"


if __name__ == "__main__":
    server.run("stdio")
