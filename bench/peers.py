"""What users would pick instead of Baton, running the same work: a plain asyncio
script, LangGraph (a StateGraph with its SQLite checkpointer) and DBOS Transact
(a workflow of steps, SQLite). Each makes the same streamed ``openai`` call per
step against the bench's simulated model, as Baton's agent activity does.

One run of ``steps`` sequential model calls, in a process of its own (so the
bench can SIGKILL it mid-step and start it again):

    python -m bench.peers langgraph --steps 10 --model URL --db FILE --run ID [--resume]

``--resume`` continues the run ``ID`` from its database (asyncio has none: it
starts over). The process prints ``done`` when the run has completed. Needs the
``bench`` extra (``pip install -e .[bench]``).
"""

from __future__ import annotations

import argparse
import asyncio
import operator
from pathlib import Path
from typing import Annotated, TypedDict

import openai

SYSTEMS = ("asyncio", "langgraph", "dbos")


async def call_model(client: openai.AsyncOpenAI, stage: str) -> str:
    """One streamed chat completion, read to its end: what every system does per step."""
    stream = await client.chat.completions.create(
        model="sim", messages=[{"role": "system", "content": "Research."},
                               {"role": "user", "content": f"Goal:\ng\n\nYour stage: {stage}"}],
        max_tokens=64, stream=True, stream_options={"include_usage": True})
    return "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])


async def plain(client: openai.AsyncOpenAI, run: str, steps: int) -> None:
    """No durability: a restarted script starts over."""
    for i in range(steps):
        await call_model(client, f"{run}-s{i}")


class Progress(TypedDict):
    outputs: Annotated[list[str], operator.add]


async def langgraph(client: openai.AsyncOpenAI, run: str, steps: int, db: Path, resume: bool) -> None:
    """A linear StateGraph, one node per step; the SQLite checkpointer saves after each."""
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
    from langgraph.graph import END, START, StateGraph

    def node(i: int):
        async def step(state: Progress) -> dict:
            return {"outputs": [await call_model(client, f"{run}-s{i}")]}
        return step

    graph = StateGraph(Progress)
    for i in range(steps):
        graph.add_node(f"s{i}", node(i))
        graph.add_edge(START if i == 0 else f"s{i - 1}", f"s{i}")
    graph.add_edge(f"s{steps - 1}", END)
    async with AsyncSqliteSaver.from_conn_string(str(db)) as saver:
        app = graph.compile(checkpointer=saver)
        await app.ainvoke(None if resume else {"outputs": []}, {"configurable": {"thread_id": run}})


async def dbos_run(client: openai.AsyncOpenAI, run: str, steps: int, db: Path, resume: bool) -> None:
    """A DBOS workflow of steps on SQLite; launching recovers the run a killed process left."""
    from dbos import DBOS, SetWorkflowID

    @DBOS.step()
    async def step(stage: str) -> str:
        return await call_model(client, stage)

    @DBOS.workflow()
    async def sequence(run_id: str, count: int) -> int:
        for i in range(count):
            await step(f"{run_id}-s{i}")
        return count

    DBOS(config={"name": "bench-peers", "system_database_url": f"sqlite:///{db}"})
    DBOS.launch()  # recovers this executor's pending workflows: the resumed run goes on here
    try:
        if resume:
            handle = await DBOS.retrieve_workflow_async(run)
        else:
            with SetWorkflowID(run):
                handle = await DBOS.start_workflow_async(sequence, run, steps)
        await handle.get_result()
    finally:
        DBOS.destroy()


async def main(system: str, steps: int, model: str, db: Path, run: str, resume: bool) -> None:
    client = openai.AsyncOpenAI(base_url=model, api_key="bench", max_retries=0)
    if system == "asyncio":
        await plain(client, run, steps)
    elif system == "langgraph":
        await langgraph(client, run, steps, db, resume)
    else:
        await dbos_run(client, run, steps, db, resume)
    print("done", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__.splitlines()[0])
    parser.add_argument("system", choices=SYSTEMS)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--model", required=True, help="the simulated model's base URL")
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--run", required=True)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.system, args.steps, args.model, args.db, args.run, args.resume))
