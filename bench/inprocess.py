"""The comparison point: an in-process asyncio orchestrator as users write by
hand (no durability): the same planner call, then the same DAG with the same
parallelism bound, the same streamed calls through the ``openai`` client."""

from __future__ import annotations

import asyncio
import json

import openai


async def run_dag(base_url: str, goal: str, max_parallel: int) -> dict[str, str]:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="bench", max_retries=2)

    async def ask(stage: str, prompt: str) -> str:
        stream = await client.chat.completions.create(
            model="sim", stream=True, max_tokens=64,
            messages=[{"role": "system", "content": "You are an agent."},
                      {"role": "user", "content": f"Goal:\n{goal}\n\nYour stage: {stage}\n\n{prompt}"}],
        )
        return "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]).strip()

    plan = json.loads(await ask("plan", "Plan the goal as tasks with dependencies."))
    tasks = {task["id"]: task for task in plan["tasks"]}
    outputs: dict[str, str] = {}
    finished = {task_id: asyncio.Event() for task_id in tasks}
    slots = asyncio.Semaphore(max_parallel)

    async def run(task: dict) -> None:
        for dependency in task["depends_on"]:
            await finished[dependency].wait()
        context = "\n\n".join(f"Output of {d}:\n{outputs[d]}" for d in task["depends_on"])
        async with slots:
            outputs[task["id"]] = await ask(task["id"], f"{task['prompt']}\n\n{context}")
        finished[task["id"]].set()

    await asyncio.gather(*(run(task) for task in tasks.values()))
    await client.close()
    return outputs
