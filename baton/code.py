"""Code steps: Python functions a user registers on the worker, run by flows'
``code`` nodes (and, next, as agents' tools), each call its own activity with
the function's retry policy and timeout.

    # my_steps.py, named in BATON_CODE=my_steps (comma-separated modules)
    from baton.code import function

    @function(timeout_seconds=30, retries=3)
    async def search(query: str, limit: int = 5) -> SearchHits:   # a pydantic model, dict, list or str
        ...

Arguments are checked against the function's type hints (pydantic) before it
runs; their JSON schema and the result's come from the same hints.
"""

from __future__ import annotations

import importlib
import inspect
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, TypeAdapter, create_model

from baton.contracts import CodeInfo, RetrySpec

CODE_ENV = "BATON_CODE"  # comma-separated modules holding a user's code functions
BUILTIN_MODULES = ("baton.run_python",)  # Baton's own: registered on every worker, used only where named


class CodeError(ValueError):
    """A code module that cannot be loaded, or a function that cannot be registered."""


@dataclass(frozen=True)
class CodeFunction:
    info: CodeInfo
    call: Callable[..., Any]
    arguments: type[BaseModel]


_registry: dict[str, CodeFunction] = {}
_modules: set[str] = set()


def function(name: str | None = None, *, timeout_seconds: float = 60.0, retries: int = 3,
             description: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a function (sync or async) as a code step named ``name`` (default:
    its own name). ``retries``: attempts in all (1: never retried)."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        step = name or fn.__name__
        if step in _registry and _registry[step].call is not fn:
            raise CodeError(f"two code functions are named {step!r}: {_registry[step].call.__module__} and {fn.__module__}")
        arguments, result = _signature(fn, step)
        info = CodeInfo(name=step, description=description or (inspect.getdoc(fn) or "").split("\n")[0],
                        parameters=arguments.model_json_schema(), result=result, timeout_seconds=timeout_seconds,
                        retry=RetrySpec(maximum_attempts=retries))
        _registry[step] = CodeFunction(info=info, call=fn, arguments=arguments)
        return fn

    return register


def _signature(fn: Callable[..., Any], step: str) -> tuple[type[BaseModel], dict[str, Any] | None]:
    hints = get_type_hints(fn)
    fields: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise CodeError(f"code function {step!r}: *args / **kwargs cannot be described; name each argument")
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (hints.get(param.name, Any), default)
    arguments = create_model(f"{step}_arguments", __config__=ConfigDict(extra="forbid"), **fields)
    returns = hints.get("return")
    result = None if returns in (None, str, type(None)) else TypeAdapter(returns).json_schema()
    return arguments, result


def use(modules: Iterable[str] = (), env: Mapping[str, str] = os.environ) -> None:
    """Import the modules holding code functions: Baton's own, ``modules`` and those in BATON_CODE."""
    named = [m.strip() for m in env.get(CODE_ENV, "").split(",") if m.strip()]
    for module in [*BUILTIN_MODULES, *modules, *named]:
        if module in _modules:
            continue
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise CodeError(f"{CODE_ENV}: cannot import code module {module!r}: {err}") from err
        _modules.add(module)


def registered() -> list[CodeFunction]:
    return list(_registry.values())


def find(name: str) -> CodeFunction:
    if name not in _registry:
        known = ", ".join(sorted(_registry)) or f"none (name modules in {CODE_ENV})"
        raise KeyError(f"unknown code function {name!r}; registered: {known}")
    return _registry[name]
