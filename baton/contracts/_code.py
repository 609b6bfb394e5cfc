"""Code steps' contracts: a registered function as runs see it, one call, its result
(``baton/code.py`` registers them; ``activities/code.py`` runs them)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from baton.contracts import MAX_SECONDS, NAME_PATTERN, Contract, RetrySpec


class CodeInfo(Contract):
    """A registered function as a run sees it (recorded in its history when the run starts)."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    parameters: dict[str, Any] = Field(description="JSON schema of its arguments")
    result: dict[str, Any] | None = Field(default=None, description="JSON schema of its result (None: text)")
    timeout_seconds: float = Field(gt=0, le=MAX_SECONDS)
    retry: RetrySpec


class CodeRequest(Contract):
    function: str
    node: str
    args: dict[str, Any] = Field(default_factory=dict)


class CodeResult(Contract):
    text: str
    data: Any = None


class CatalogRequest(Contract):
    schemas: list[str] = Field(default_factory=list, description="Output schema names whose JSON schemas a flow needs")


class Catalog(Contract):
    """What a flow run checks its nodes against, recorded in its history when it starts."""

    functions: list[CodeInfo] = Field(default_factory=list)
    schemas: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Schema name -> JSON schema")
