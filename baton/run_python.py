"""``run_python``: a ready tool for agents that compute, off unless an agent lists it.

The model's code runs in a separate Python process, never in the worker:

- wall time ``BATON_RUN_PYTHON_SECONDS`` (default 10) and address space
  ``BATON_RUN_PYTHON_MEMORY_MB`` (default 512), CPU time and file size capped by
  the kernel (``setrlimit``); the process group is killed at the deadline;
- a fresh scratch directory as its working and home directory, deleted after;
- an empty environment (no API keys, no ``BATON_*``, no proxies);
- no network, no subprocesses, no C libraries loaded by hand, no other process's
  /proc files, no writes outside the scratch directory: refused by an audit hook
  (PEP 578) installed before the code runs;
- as the user ``BATON_RUN_PYTHON_USER`` names, when set (a worker running as root
  must be able to switch, and that user must be able to run the worker's
  Python); otherwise as the worker's own user, the worker first made
  non-dumpable so the code cannot read the worker's environment from /proc.

What it is not: a container. The code can read whatever files the user it runs
as can read (as root: everything), and a determined attacker with a CPython
exploit gets past an audit hook. Run workers that offer ``run_python`` in a
container or VM with nothing worth reading (docs/tools.md).
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import pwd
import resource
import shutil
import signal
import sys
import tempfile
from collections.abc import Mapping

from pydantic import BaseModel, Field

from baton.code import function

MAX_OUTPUT_CHARS = 10_000
PR_SET_DUMPABLE = 4

# Runs in the child: read the code, refuse what it must not do, run it.
RUNNER = r"""
import os, sys
code = sys.stdin.read()
scratch = os.path.realpath(os.getcwd())
BLOCKED = ("socket.", "subprocess.", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
           "pty.", "ctypes.", "os.kill", "os.killpg", "signal.pthread_kill", "sys.remote_exec")
WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

def outside(raw):
    path = os.path.realpath(os.fsdecode(raw))
    return path if path != scratch and not path.startswith(scratch + os.sep) else None

def refuse(event, args):
    if event.startswith(BLOCKED) and event != "socket.gethostname":
        raise PermissionError(f"run_python does not allow {event}")
    if event == "open" and isinstance(args[0], (str, bytes)):
        opened = os.fsdecode(args[0])
        if opened.startswith("/proc/") and not opened.startswith(("/proc/self/", "/proc/thread-self/")):
            raise PermissionError("run_python may not read other processes' /proc files")
    if event == "open" and len(args) > 2 and args[0] is not None and not isinstance(args[0], int):
        mode, flags = args[1] or "", args[2] or 0
        if (any(c in str(mode) for c in "wax+") or flags & WRITES) and (path := outside(args[0])):
            raise PermissionError(f"run_python may write only in its scratch directory, not {path}")
    if event in ("os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.symlink", "os.link",
                 "os.truncate", "shutil.rmtree", "os.utime"):
        for arg in args[:2]:
            if isinstance(arg, (str, bytes)) and (path := outside(arg)):
                raise PermissionError(f"run_python may change files only in its scratch directory, not {path}")

sys.addaudithook(refuse)
del refuse
exec(compile(code, "<agent code>", "exec"), {"__name__": "__main__"})
"""


class PythonRun(BaseModel):
    exit_code: int | None = Field(description="None: stopped at the time limit")
    stdout: str
    stderr: str
    timed_out: bool = False


def limits(env: Mapping[str, str] = os.environ) -> tuple[float, int, int | None]:
    """Wall seconds, memory megabytes and the user id for one run, from the worker's environment."""
    user = env.get("BATON_RUN_PYTHON_USER")
    uid = None if not user else int(user) if user.isdigit() else pwd.getpwnam(user).pw_uid
    return float(env.get("BATON_RUN_PYTHON_SECONDS", "10")), int(env.get("BATON_RUN_PYTHON_MEMORY_MB", "512")), uid


@function(timeout_seconds=120, retries=1)
async def run_python(code: str) -> PythonRun:
    """Run Python 3 code in a sandboxed process and get its exit code, stdout and stderr.
    Print what you want to see. No network, no subprocesses; files only in the working directory."""
    seconds, megabytes, uid = limits()
    scratch = tempfile.mkdtemp(prefix="baton-python-")
    if uid is not None:
        os.chown(scratch, uid, uid)
    else:
        _not_dumpable()

    def confine() -> None:  # in the child, before it runs Python
        os.setsid()
        memory = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (int(seconds) + 1, int(seconds) + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (50 * 1024 * 1024, 50 * 1024 * 1024))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if uid is not None:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)

    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-I", "-c", RUNNER, cwd=scratch, preexec_fn=confine,
            env={"HOME": scratch, "TMPDIR": scratch, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(process.communicate(code.encode()), seconds)
        except TimeoutError:
            _kill_group(process.pid)
            out, err = await process.communicate()
            return PythonRun(exit_code=None, stdout=_cut(out), stderr=_cut(err) + f"\nstopped after {seconds:g}s",
                             timed_out=True)
        finally:
            _kill_group(process.pid)  # anything it left behind
        return PythonRun(exit_code=process.returncode, stdout=_cut(out), stderr=_cut(err))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _not_dumpable() -> None:
    """Make the worker's /proc files (its environment: API keys) unreadable to processes of
    its own user, such as the code it runs."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: nothing to do there
        pass


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _cut(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace")
    return text if len(text) <= MAX_OUTPUT_CHARS else text[:MAX_OUTPUT_CHARS] + f"\n… ({len(text)} characters in all)"
