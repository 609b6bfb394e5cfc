"""The only side effects in Baton: agent (LLM) calls."""

from activities.agent import AgentActivities, make_openai_client

__all__ = ["AgentActivities", "make_openai_client"]
