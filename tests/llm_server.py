"""A local OpenAI-compatible HTTP server for tests: scripted replies and faults.

The real ``openai`` client and the real agent activity talk to it over HTTP, so
retries, timeouts, streaming and error classification run for real. It:

- answers ``POST /v1/chat/completions``, streamed (SSE) or not;
- replies from a script (``script(match, Reply(...), ...)``: the next reply for
  requests whose prompt contains ``match``), else with a default answer that
  names the stage, so tests can see what each agent was given;
- injects latency, any HTTP status with headers (429 + Retry-After, 500),
  malformed bodies, hangs and dropped connections;
- can reject ``response_format: json_schema`` like llama-cpp-python does;
- records every request, so tests count calls per stage.

It runs in its own thread and event loop so blocking test code cannot stall it.
``python -m tests.llm_server --port 8099 --latency 0.5`` runs it standalone (the
benchmarks do), steered over HTTP: ``POST /admin/latency {"seconds": s}``,
``POST /admin/script {"stage": ..., "text": ...}``, ``POST /admin/reset`` and
``GET /admin/requests`` (``[[stage, monotonic time], ...]``).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

STAGE_LINE = re.compile(r"^Your stage: (.+)$", re.MULTILINE)
# Text the agent is given as data (activities/prompts.as_data): a block ends only at the end tag with its own id.
FENCE = re.compile(r'<data id="([0-9a-f]{16})">\n(.*?)\n</data id="\1">', re.S)


def unfenced(text: str) -> str:
    """The text of one fenced data block (a tool's result as the model saw it), else ``text`` as is."""
    whole = FENCE.fullmatch(text)
    return whole.group(2) if whole else text
STAGE_KEY = "\x00stage:"


@dataclass
class Reply:
    text: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None  # a raw body for errors, or malformed output
    delay: float = 0.0  # seconds before answering
    hang: bool = False  # never answer (until the client gives up)
    drop: bool = False  # close the connection without an answer
    usage: bool = True  # include token usage in the answer
    tool_calls: list[tuple[str, dict[str, Any] | str]] = field(default_factory=list)  # (function, arguments)
    refusal: str | None = None  # the model declines (streamed as a refusal delta)
    pace: float = 0.0  # seconds between streamed chunks (a model writing slowly)
    finish_reason: str = "stop"  # "length": the model ran out of tokens
    cut: bool = False  # the stream ends after the text: no finish_reason, no usage, no [DONE]
    endless: bool = False  # after the text, the same words for ever (a server ignoring max_tokens)
    stream_error: dict[str, Any] | None = None  # after the text, an event {"error": this} ends the stream (a gateway's mid-stream error)


@dataclass
class Request:
    body: dict[str, Any]
    prompt: str
    stage: str | None
    at: float
    authorization: str = ""  # the Authorization header the client sent
    prompt_chars: int = 0  # the whole prompt's length (``prompt`` may keep only its head: ``keep_prompt_chars``)
    connection: str = ""  # the client's address and port: the same for requests on one kept-alive connection


class ScriptedLLM:
    def __init__(self, latency: float = 0.0, reject_json_schema: bool = False):
        self.latency = latency
        self.reject_json_schema = reject_json_schema
        self.requests: list[Request] = []
        # Keep only this much of each prompt (and no body): runs whose prompts add up to gigabytes.
        self.keep_prompt_chars: int | None = None
        self._scripts: list[tuple[str, deque[Reply]]] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    # ----------------------------------------------------------- scripting

    def script(self, match: str, *replies: Reply | str) -> None:
        """The next requests whose prompt contains ``match`` get these replies, in order."""
        queue = deque(Reply(text=r) if isinstance(r, str) else r for r in replies)
        with self._lock:
            self._scripts.append((match, queue))

    def script_stage(self, stage: str, *replies: Reply | str) -> None:
        """Like ``script``, for requests of exactly this stage (not ``plan`` for ``plan.r2``)."""
        self.script(STAGE_KEY + stage, *replies)

    def count(self, match: str = "") -> int:
        with self._lock:
            return sum(1 for r in self.requests if match in r.prompt)

    def stage_calls(self, stage: str) -> int:
        with self._lock:
            return sum(1 for r in self.requests if r.stage == stage)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _next_reply(self, prompt: str, stage: str | None) -> Reply | None:
        with self._lock:
            for match, queue in self._scripts:
                hit = stage == match[len(STAGE_KEY):] if match.startswith(STAGE_KEY) else match in prompt
                if hit and queue:
                    return queue.popleft()
        return None

    # ----------------------------------------------------------- serving

    async def _chat(self, http: web.Request) -> web.StreamResponse:
        body = await http.json()
        prompt = "\n".join(str(m.get("content") or "") for m in body.get("messages", []))
        stage_match = STAGE_LINE.search(prompt)
        stage = stage_match.group(1).strip() if stage_match else None
        with self._lock:
            kept = self.keep_prompt_chars
            self.requests.append(Request(body=body if kept is None else {}, prompt=prompt[:kept], stage=stage,
                                         at=time.monotonic(), authorization=http.headers.get("Authorization", ""),
                                         prompt_chars=len(prompt), connection=str(http.remote) + ":" +
                                         str((http.transport.get_extra_info("peername") or ("", ""))[1] if http.transport else "")))
            number = len(self.requests)
        fmt = (body.get("response_format") or {}).get("type")
        if self.reject_json_schema and fmt == "json_schema":
            # What llama-cpp-python answers: a 500 carrying its validation error.
            message = "1 validation error: body.response_format.type: Input should be 'text' or 'json_object'"
            return web.json_response({"error": {"message": message, "type": "internal_server_error"}}, status=500)
        reply = self._next_reply(prompt, stage) or Reply(text=f"answer #{number} for stage {stage}")
        await asyncio.sleep(self.latency + reply.delay)
        if reply.hang:
            await asyncio.sleep(3600)
        if reply.drop:
            assert http.transport is not None
            http.transport.close()
            return web.Response(status=500)
        if reply.status != 200 or reply.body is not None and reply.text is None:
            return web.Response(status=reply.status, text=reply.body or json.dumps({"error": {"message": f"scripted {reply.status}"}}), headers=reply.headers, content_type="application/json")
        usage = _usage(prompt, reply.text or "") if reply.usage else None
        model = body.get("model", "scripted")
        calls = [{"id": f"call-{number}-{i}", "type": "function",
                  "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
                 for i, (name, args) in enumerate(reply.tool_calls)]
        if body.get("stream"):
            return await self._stream(http, model, reply.text or "", usage, calls, reply)
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if calls:
            message["tool_calls"] = calls
        answer = {"id": f"chatcmpl-{number}", "object": "chat.completion", "created": int(time.time()), "model": model,
                  "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}
        if usage:
            answer["usage"] = usage
        return web.json_response(answer)

    async def _stream(self, http: web.Request, model: str, text: str, usage: dict | None, calls: list[dict],
                      reply: Reply) -> web.StreamResponse:
        refusal, pace = reply.refusal, reply.pace
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(http)
        base = {"id": "chatcmpl-stream", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
        pieces = re.findall(r"\S+\s*|\s+", text) or ([text] if text or not calls else [])
        deltas = [{"refusal": refusal}] if refusal else [{"content": piece} for piece in pieces]
        for index, call in enumerate(calls):
            # As providers do: id and name first, then the arguments in pieces.
            arguments = call["function"]["arguments"]
            half = len(arguments) // 2
            deltas.append({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                           "function": {"name": call["function"]["name"], "arguments": arguments[:half]}}]})
            deltas.append({"tool_calls": [{"index": index, "function": {"arguments": arguments[half:]}}]})
        for delta in itertools.cycle(deltas) if reply.endless and deltas else deltas:
            chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            try:
                await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
            except ConnectionResetError:  # the client stopped reading (an endless answer)
                return response
            if pace or reply.endless:
                await asyncio.sleep(pace)  # an endless answer yields, so the server stays responsive
        if reply.stream_error is not None:
            await response.write(f"data: {json.dumps({'error': reply.stream_error})}\n\n".encode())
            await response.write_eof()
            return response
        if reply.cut:
            return response  # aiohttp ends the chunked body: the client sees a stream that just stops
        finish = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": reply.finish_reason}]}
        await response.write(f"data: {json.dumps(finish)}\n\n".encode())
        if usage:
            await response.write(f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    # ----------------------------------------------------------- admin (standalone use)

    async def _set_latency(self, http: web.Request) -> web.Response:
        self.latency = float((await http.json())["seconds"])
        return web.json_response({"latency": self.latency})

    async def _add_script(self, http: web.Request) -> web.Response:
        body = await http.json()
        self.script_stage(body["stage"], *([body["text"]] * int(body.get("times", 1))))
        return web.json_response({"ok": True})

    async def _reset(self, http: web.Request) -> web.Response:
        with self._lock:
            self.requests.clear()
            self._scripts.clear()
        return web.json_response({"ok": True})

    async def _list_requests(self, http: web.Request) -> web.Response:
        with self._lock:
            return web.json_response([[r.stage, r.at] for r in self.requests])

    # ----------------------------------------------------------- lifecycle

    def start(self, port: int = 0) -> ScriptedLLM:
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            app = web.Application(client_max_size=64 * 1024 * 1024)  # prompts of several MB (tests/test_large_data.py)
            app.router.add_post("/v1/chat/completions", self._chat)
            app.router.add_post("/admin/latency", self._set_latency)
            app.router.add_post("/admin/script", self._add_script)
            app.router.add_post("/admin/reset", self._reset)
            app.router.add_get("/admin/requests", self._list_requests)
            # Short shutdown: scripted hangs and long delays must not hold up teardown.
            self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", port)
            self._loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="scripted-llm", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop and self._runner:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)

    async def _shutdown(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()
        # Handlers still sleeping in a scripted delay or hang: end them quietly.
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)


def _usage(prompt: str, text: str) -> dict[str, int]:
    prompt_tokens, completion_tokens = len(prompt.split()), len(text.split())
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    server = ScriptedLLM(latency=args.latency).start(args.port)
    print(f"scripted LLM on {server.base_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()
