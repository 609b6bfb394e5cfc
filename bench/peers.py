"""What users would pick instead of Baton, running the same work: a plain asyncio
script, LangGraph (a StateGraph with its SQLite checkpointer) and DBOS Transact
(workflows of steps, SQLite). Each makes the same streamed ``openai`` call per
step against the bench's simulated model, as Baton's agent activity does.

One run of one workload, in a process of its own (so the bench can SIGKILL it
mid-step and start it again):

    python -m bench.peers langgraph sequence --steps 10 --model URL --db FILE --run ID [--resume]
    python -m bench.peers dbos dag --parallel 5 --model URL --db FILE --run ID
    python -m bench.peers asyncio fan-out --calls 200 --parallel 50 --model URL --db FILE --run ID

Workloads: ``sequence`` (N calls one after another), ``dag`` (a planner call,
which the bench answers with the plan Baton's planner gets, then 4 layers × 5
tasks, each task given the outputs of the whole layer before it, as
``bench.measures.layered_plan``), ``fan-out`` (N independent calls, at
most P at once). ``--resume`` continues the run ``ID`` from its database
(asyncio has none: it starts over). The process prints ``done SECONDS`` when
the run has completed, SECONDS timed from the run's start, after the system's
own setup (imports, database, graph). Needs the ``bench`` extra.
"""

from __future__ import annotations

import argparse
import asyncio
import operator
import time
from pathlib import Path
from typing import Annotated, TypedDict

import openai

SYSTEMS = ("asyncio", "langgraph", "dbos")
WORKLOADS = ("sequence", "dag", "fan-out")
LAYERS, WIDTH = 4, 5


async def call_model(client: openai.AsyncOpenAI, stage: str, context: str = "") -> str:
    """One streamed chat completion, read to its end: what every system does per step."""
    stream = await client.chat.completions.create(
        model="sim", messages=[{"role": "system", "content": "Research."},
                               {"role": "user", "content": f"Goal:\ng\n\nYour stage: {stage}{context}"}],
        max_tokens=64, stream=True, stream_options={"include_usage": True})
    return "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])


def dag_tasks(run: str) -> list[list[str]]:
    """The DAG's stages, layer by layer; every task depends on the whole layer before it."""
    return [[f"{run}-l{layer}t{n}" for n in range(WIDTH)] for layer in range(LAYERS)]


def context_of(outputs: dict[str, str], names: list[str]) -> str:
    return "".join(f"\n\nOutput of {name}:\n{outputs[name]}" for name in names)


# ---------------------------------------------------------------- plain asyncio: no durability

async def plain(client: openai.AsyncOpenAI, workload: str, run: str, count: int, parallel: int) -> None:
    """A restarted script starts over."""
    if workload == "sequence":
        for i in range(count):
            await call_model(client, f"{run}-s{i}")
    elif workload == "dag":
        await call_model(client, f"{run}-plan")
        outputs: dict[str, str] = {}
        slots = asyncio.Semaphore(parallel)
        before: list[str] = []

        async def task(name: str) -> None:
            async with slots:
                outputs[name] = await call_model(client, name, context_of(outputs, before))
        for layer in dag_tasks(run):
            await asyncio.gather(*(task(name) for name in layer))
            before = layer
    else:
        slots = asyncio.Semaphore(parallel)

        async def one(i: int) -> str:
            async with slots:
                return await call_model(client, f"{run}-t{i}")
        await asyncio.gather(*(one(i) for i in range(count)))


# ---------------------------------------------------------------- LangGraph + AsyncSqliteSaver

class Outputs(TypedDict):
    outputs: Annotated[dict[str, str], operator.or_]


def langgraph_graph(client: openai.AsyncOpenAI, workload: str, run: str, count: int):
    """Sequence: one node per step in a line. DAG: a node per task, each layer's nodes
    joined by edges from the whole layer before. Fan-out: ``Send`` one call per task."""
    from langgraph.graph import END, START, StateGraph
    from langgraph.types import Send

    def calling(stage: str, after: list[str] = []):
        async def node(state: Outputs) -> dict:
            return {"outputs": {stage: await call_model(client, stage, context_of(state["outputs"], after))}}
        return node

    graph = StateGraph(Outputs)
    if workload == "sequence":
        stages = [f"{run}-s{i}" for i in range(count)]
        for i, stage in enumerate(stages):
            graph.add_node(stage, calling(stage))
            graph.add_edge(START if i == 0 else stages[i - 1], stage)
        graph.add_edge(stages[-1], END)
    elif workload == "dag":
        graph.add_node("plan", calling(f"{run}-plan"))
        graph.add_edge(START, "plan")
        before = ["plan"]
        for layer in dag_tasks(run):
            for stage in layer:
                graph.add_node(stage, calling(stage, [] if before == ["plan"] else before))
                graph.add_edge(before if len(before) > 1 else before[0], stage)
            before = layer
        graph.add_edge(before, END)
    else:
        async def call(task: dict) -> dict:
            return {"outputs": {task["stage"]: await call_model(client, task["stage"])}}
        graph.add_node("call", call)
        graph.add_conditional_edges(START, lambda _: [Send("call", {"stage": f"{run}-t{i}"}) for i in range(count)], ["call"])
        graph.add_edge("call", END)
    return graph


async def langgraph(client: openai.AsyncOpenAI, workload: str, run: str, count: int, parallel: int, db: Path,
                    resume: bool) -> float:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    graph = langgraph_graph(client, workload, run, count)
    async with AsyncSqliteSaver.from_conn_string(str(db)) as saver:
        app = graph.compile(checkpointer=saver)
        began = time.monotonic()
        await app.ainvoke(None if resume else {"outputs": {}}, {"configurable": {"thread_id": run}, "max_concurrency": parallel})
        return time.monotonic() - began


# ---------------------------------------------------------------- DBOS Transact on SQLite

async def dbos_run(client: openai.AsyncOpenAI, workload: str, run: str, count: int, parallel: int, db: Path,
                   resume: bool) -> float:
    """One workflow of steps; a DAG layer's steps and the fan-out's calls gathered (at most
    ``parallel`` at once). A DBOS queue of one workflow per call, ``worker_concurrency``
    50, polling every 0.1 s, made half as many calls a second (BENCHMARKS.md)."""
    from dbos import DBOS, SetWorkflowID

    @DBOS.step()
    async def step(stage: str, context: str = "") -> str:
        return await call_model(client, stage, context)

    @DBOS.workflow()
    async def sequence(run_id: str, steps: int) -> int:
        for i in range(steps):
            await step(f"{run_id}-s{i}")
        return steps

    @DBOS.workflow()
    async def dag(run_id: str) -> int:
        await step(f"{run_id}-plan")
        outputs: dict[str, str] = {}
        before: list[str] = []
        for layer in dag_tasks(run_id):
            context = context_of(outputs, before)
            outputs.update(zip(layer, await asyncio.gather(*(step(stage, context) for stage in layer))))
            before = layer
        return len(outputs)

    @DBOS.workflow()
    async def fan_out(run_id: str, calls: int, at_once: int) -> int:
        slots = asyncio.Semaphore(at_once)

        async def one(i: int) -> str:
            async with slots:  # FIFO: the steps start in the same order on recovery
                return await step(f"{run_id}-t{i}")
        return len(await asyncio.gather(*(one(i) for i in range(calls))))

    DBOS(config={"name": "bench-peers", "system_database_url": f"sqlite:///{db}"})
    DBOS.launch()  # recovers this executor's pending workflows: the resumed run goes on here
    try:
        began = time.monotonic()
        if resume:
            handle = await DBOS.retrieve_workflow_async(run)
        else:
            with SetWorkflowID(run):
                handle = await (DBOS.start_workflow_async(sequence, run, count) if workload == "sequence" else
                                DBOS.start_workflow_async(dag, run) if workload == "dag" else
                                DBOS.start_workflow_async(fan_out, run, count, parallel))
        await handle.get_result()
        return time.monotonic() - began
    finally:
        DBOS.destroy()


async def main(args: argparse.Namespace) -> None:
    client = openai.AsyncOpenAI(base_url=args.model, api_key="bench", max_retries=0)
    count = args.calls if args.workload == "fan-out" else args.steps
    if args.system == "asyncio":
        began = time.monotonic()
        await plain(client, args.workload, args.run, count, args.parallel)
        seconds = time.monotonic() - began
    elif args.system == "langgraph":
        seconds = await langgraph(client, args.workload, args.run, count, args.parallel, args.db, args.resume)
    else:
        seconds = await dbos_run(client, args.workload, args.run, count, args.parallel, args.db, args.resume)
    print(f"done {seconds:.4f}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__.splitlines()[0])
    parser.add_argument("system", choices=SYSTEMS)
    parser.add_argument("workload", choices=WORKLOADS)
    parser.add_argument("--steps", type=int, default=10, help="sequence: calls one after another")
    parser.add_argument("--calls", type=int, default=200, help="fan-out: independent calls")
    parser.add_argument("--parallel", type=int, default=5, help="dag and fan-out: calls at once at most")
    parser.add_argument("--model", required=True, help="the simulated model's base URL")
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--resume", action="store_true")
    asyncio.run(main(parser.parse_args()))
