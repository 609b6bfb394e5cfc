"""The code-step activities: describe the registered functions (a local activity,
recorded once per run) and run one (its own activity, retried as the function
says). A function's exception is the step's failure; bad arguments never retry."""

from __future__ import annotations

import asyncio
import inspect
import json
from typing import Any

import structlog
from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python
from temporalio import activity
from temporalio.exceptions import ApplicationError

from baton import code
from baton.contracts import Catalog, CatalogRequest, CodeRequest, CodeResult, explain
from baton.schemas import json_schemas

log = structlog.get_logger("baton.code")
MAX_ERROR_CHARS = 2_000


@activity.defn(name="flow_catalog")
async def flow_catalog(request: CatalogRequest) -> Catalog:
    """The code functions registered on this worker and the JSON schemas a flow names
    (an unknown schema is left out: the flow's check reports it)."""
    return Catalog(functions=[f.info for f in code.registered()], schemas=json_schemas(request.schemas))


@activity.defn(name="run_code")
async def run_code(request: CodeRequest) -> CodeResult:
    return await call_function(request.function, request.args, request.node)


async def call_function(name: str, arguments: dict[str, Any], where: str) -> CodeResult:
    """Run registered function ``name`` for ``where`` (a flow node, an agent's step):
    unknown functions and bad arguments fail for good (types ``UnknownFunction``,
    ``InvalidArguments``); the function's own exception fails this attempt, typed
    by its class, and Temporal retries it as the function says."""
    try:
        fn = code.find(name)
    except KeyError as err:
        raise ApplicationError(str(err.args[0]), type="UnknownFunction", non_retryable=True) from err
    try:
        args = fn.arguments.model_validate(arguments)
    except ValidationError as err:
        raise ApplicationError(f"{name}: bad arguments: {explain(err)}"[:MAX_ERROR_CHARS],
                               type="InvalidArguments", non_retryable=True) from err
    kwargs = {field: getattr(args, field) for field in type(args).model_fields}
    try:
        if inspect.iscoroutinefunction(fn.call):
            value = await fn.call(**kwargs)
        else:  # a blocking function must not stall the worker's event loop
            value = await asyncio.to_thread(fn.call, **kwargs)
    except ApplicationError:
        raise
    except Exception as err:
        log.warning("code function failed", function=name, where=where, error=repr(err)[:500])
        raise ApplicationError(f"{name}: {type(err).__name__}: {err}"[:MAX_ERROR_CHARS],
                               type=type(err).__name__) from err
    return as_result(value)


def as_result(value: Any) -> CodeResult:
    """A function's return value as a step's output: text, plus data when structured."""
    if isinstance(value, str):
        return CodeResult(text=value)
    data = value.model_dump(mode="json") if isinstance(value, BaseModel) else to_jsonable_python(value)
    return CodeResult(text=json.dumps(data, ensure_ascii=False), data=data)
