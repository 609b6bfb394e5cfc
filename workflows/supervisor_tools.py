"""The functions a supervisor may call, and the checking of its calls: a
model's arguments are data, validated before anything acts on them."""

from __future__ import annotations

import json

from pydantic import BaseModel, Field, ValidationError

from baton.contracts import ToolCall, ToolSpec, explain


class Delegate(BaseModel):
    agent: str
    instruction: str = Field(min_length=1)


class AskPerson(BaseModel):
    question: str = Field(min_length=1)


class Finish(BaseModel):
    answer: str = Field(min_length=1)


ARGUMENTS = {"delegate": Delegate, "ask_person": AskPerson, "finish": Finish}


def supervisor_tools(workers: list[str], allow_escalation: bool) -> list[ToolSpec]:
    delegate = Delegate.model_json_schema()
    delegate["properties"]["agent"]["enum"] = list(workers)
    tools = [
        ToolSpec(name="delegate", description="Give one team member a task; you will see its result.", parameters=delegate),
        ToolSpec(name="finish", description="End the work with the final answer to the goal.", parameters=Finish.model_json_schema()),
    ]
    if allow_escalation:
        tools.append(ToolSpec(name="ask_person", description="Ask a person a question and wait for the answer.",
                              parameters=AskPerson.model_json_schema()))
    return tools


def parse_call(call: ToolCall, workers: list[str], allow_escalation: bool) -> BaseModel | str:
    """The validated arguments, or the error to send back to the supervisor."""
    model = ARGUMENTS.get(call.name)
    if model is None or (model is AskPerson and not allow_escalation):
        offered = [name for name in ARGUMENTS if name != "ask_person" or allow_escalation]
        return f"error: there is no function {call.name!r}; use one of {', '.join(offered)}"
    try:
        args = model.model_validate(json.loads(call.arguments or "{}"))
    except json.JSONDecodeError as err:
        return f"error: the arguments of {call.name} are not JSON ({err.msg}); call it again"
    except ValidationError as err:
        return f"error: invalid arguments for {call.name}: {explain(err)}; call it again"
    if isinstance(args, Delegate) and args.agent not in workers:
        return f"error: {args.agent!r} is not on your team; choose one of {', '.join(workers)}"
    return args
