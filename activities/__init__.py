"""The only side effects in Baton: agent (LLM) calls and the artifacts they write."""

from baton.activities.agent import AgentActivities, make_openai_client

__all__ = ["AgentActivities", "make_openai_client"]
