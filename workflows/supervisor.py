"""SupervisorWorkflow: a supervisor agent decides, turn by turn through tool
calling, which worker does what next (``delegate``), reads each result, may ask
a person (``ask_person``: the run waits in ``awaiting_review`` for ``feedback``
carrying the answer, or ``approve`` to go on without one) and ends with
``finish``. After ``max_turns`` decisions it is asked once for its final answer."""

from __future__ import annotations

import asyncio

import pydantic
from temporalio import workflow
from temporalio.common import RawValue

with workflow.unsafe.imports_passed_through():
    from baton.workflows.inputs import NO_INPUT
    from baton.contracts import ChatTurn, Delegation, SupervisorInput, SupervisorResult, ToolCall
    from baton.patterns import About
    from baton.workflows.control import ControlPlane
    from baton.workflows.supervisor_tools import AskPerson, Delegate, Finish, parse_call, supervisor_tools

NO_ANSWER = "The person approved without an answer: continue on your own judgement."


@workflow.defn(name="SupervisorWorkflow", failure_exception_types=[pydantic.ValidationError])
class SupervisorWorkflow(ControlPlane[SupervisorInput]):
    about = About(
        "supervisor", SupervisorInput, SupervisorResult, step_noun="turn",
        goal=lambda i: i.goal,
        shape=lambda i: f"**Workers:** {', '.join(i.workers)} · at most {i.max_turns} turns",
    )

    @workflow.init
    def __init__(self, raw: RawValue = NO_INPUT) -> None:
        super().__init__(raw)
        self._conversation: list[ChatTurn] = []
        self._delegations: list[Delegation] = []
        self._questions: list[dict[str, str]] = []
        self._answer: str | None = None
        self._stopped = "max_turns"
        self._turns = 0
        self._asking: str | None = None  # the question step waiting for a person, while it waits

    @workflow.run
    async def run(self, raw: RawValue = NO_INPUT) -> SupervisorResult:
        inp = await self.begin()
        self.board.define([])
        with self.ends_of_run(inp):
            await self.agents.resolve({inp.supervisor, *inp.workers})
            team = "\n".join(f"- {name}: {self.agents.role(name)}" for name in inp.workers)
            self._brief = (f"Your team:\n{team}\nCall `delegate` to give one of them a task (several calls run in parallel), "
                           + ("`ask_person` when only a person can decide, " if inp.allow_escalation else "")
                           + "and `finish` with the final answer once the goal is met.")
            self._tools = supervisor_tools(inp.workers, inp.allow_escalation)
            for turn in range(1, inp.max_turns + 1):
                if await self._turn(turn, f"turn-{turn}", self._brief):
                    break
            else:
                await self._turn(inp.max_turns + 1, "final", "You have used all your turns: give the final answer now "
                                 "with `finish`, from the results so far.", last=True)
                self._stopped = "max_turns"
        return self.result()

    async def _turn(self, turn: int, step: str, instructions: str, last: bool = False) -> bool:
        """One supervisor decision and what it asked for; True once there is a final answer."""
        self._turns, self.info["turn"] = turn, step
        self.board.add([(step, self.inp.supervisor)])
        reply = await self.call_agent(step, self.inp.supervisor, self.inp.goal, instructions=instructions,
                                      tools=self._tools, conversation=self._conversation)
        self.step_done(step, reply.text or ", ".join(f"{c.name}({c.arguments})" for c in reply.tool_calls))
        if not reply.tool_calls:  # a plain answer is the final answer
            return self._finish(reply.text)
        self._conversation.append(ChatTurn(role="assistant", content=reply.text or None, tool_calls=reply.tool_calls))
        parsed = [(call, parse_call(call, self.inp.workers, self.inp.allow_escalation)) for call in reply.tool_calls]
        finish = next((args for _, args in parsed if isinstance(args, Finish)), None)
        if finish is not None:
            return self._finish(finish.answer)
        if last:
            return True
        results: dict[str, str] = {}
        delegations = [(c, a) for c, a in parsed if isinstance(a, Delegate)]
        await asyncio.gather(*(self._delegate(turn, n, call, args, results) for n, (call, args) in enumerate(delegations, 1)))
        for call, args in parsed:  # one question at a time, after the team has answered
            if isinstance(args, AskPerson):
                results[call.id] = await self._ask_person(turn, args.question)
            elif isinstance(args, str):
                results[call.id] = args  # the error, so the supervisor can correct its call
        self._conversation += [ChatTurn(role="tool", tool_call_id=c.id, content=results[c.id]) for c, _ in parsed]
        return False

    async def _delegate(self, turn: int, number: int, call: ToolCall, args: Delegate, results: dict[str, str]) -> None:
        step = f"turn-{turn}.{number}-{args.agent}"
        self.board.add([(step, args.agent)])
        record = Delegation(turn=turn, step=step, agent=args.agent, instruction=args.instruction)
        self._delegations.append(record)
        self.info["delegations"] = len(self._delegations)
        record.output = await self.try_step(step, args.agent, self.inp.goal, instructions=args.instruction)
        record.error = self.board.error(step)
        results[call.id] = record.output if record.output is not None else f"{args.agent} failed: {record.error}"

    async def _ask_person(self, turn: int, question: str) -> str:
        step = f"ask-{turn}"
        self.board.add([(step, "person")])
        self.timeline.before(step)  # so `feedback` may name this step
        self.info["question"] = question
        self._asking = step
        while True:
            await self.review_gate(step)
            answered = self.take_jump() == step
            if not answered or self.timeline.feedback.get(step):
                break
            # rewound to before the question: it is asked again
        self._asking = None
        answer = self.timeline.feedback[step][-1] if answered else NO_ANSWER
        self.info.pop("question")
        self.step_done(step, answer)
        self._questions.append({"question": question, "answer": answer})
        return answer

    def rerun_scope(self, step: str) -> list[str]:
        """Only the question waiting for a person: the conversation has gone on from every other step."""
        if step != self._asking:
            raise ValueError(f"{step!r} cannot run again: the supervisor's conversation has gone on from it; feedback "
                             "answers the question it is waiting on" + (f" ({self._asking})" if self._asking else ""))
        return [step]

    def _finish(self, answer: str) -> bool:
        self._answer, self._stopped = answer, "finished"
        return True

    @workflow.query
    def result(self) -> SupervisorResult:
        return SupervisorResult(answer=self._answer, turns=self._turns, delegations=list(self._delegations),
                                questions=list(self._questions), stopped=self._stopped,  # type: ignore[arg-type]
                                usage=self.agents.usage, truncated=self.agents.truncated(), state=self.run_state())
