"""The agent or model a person chose for a step, for the rest of the run (a fork's
``agents`` / ``models``, the ``set_agent`` / ``set_model`` updates). The step's
next call uses it; its fallbacks stay the agent's own."""

from __future__ import annotations


class Overrides:
    def __init__(self) -> None:
        self.agents: dict[str, str] = {}  # step -> agent
        self.models: dict[str, str] = {}  # step -> model

    def agent(self, step: str, planned: str) -> str:
        """The agent that runs ``step``: the one a person chose, else the one planned."""
        return self.agents.get(step, planned)

    def model(self, step: str) -> str | None:
        """The model a person chose for ``step``, if any."""
        return self.models.get(step)

    def shown(self, step: str) -> str | None:
        """How the step's row says it was overridden."""
        chosen = [f"agent {self.agents[step]}" if step in self.agents else "",
                  f"model {self.models[step]}" if step in self.models else ""]
        return ", ".join(c for c in chosen if c) or None
