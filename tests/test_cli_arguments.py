"""Every starter.py command given bad arguments answers with one line saying what
is wrong and exit code 2, never a traceback (issue 14, point 9). Each runs as an
operator runs it, against the dev server (commands that need a run name one that
does not exist). `run`, `up` and `down` start or stop services: left out."""

from __future__ import annotations

import asyncio
import os
import shlex
import sys

from tests.conftest import REPO_ROOT, address_of

# (arguments, what the line must say)
CASES = [
    ("start --input '{not json'", "invalid pipeline input"),
    ("start --input @/nonexistent.json", "input file not found"),
    ("start --type teleport --input '{}'", "unknown pattern 'teleport'"),
    ("start --input '{\"goal\": \"g\", \"stages\": [], \"max_tokens_total\": -5}'", "stages"),
    ("content ''", "topic: String should have at least 1 character"),
    ("content tides --auto nope", "unknown content stage"),
    *((f"{command} no-such-run", "no run with id 'no-such-run'")
      for command in ("status", "watch", "pause", "resume", "cancel", "result")),
    ("approve no-such-run", "no run with id 'no-such-run'"),
    ("approve no-such-run --run 0", "run: Input should be greater than or equal to 1"),
    ("feedback no-such-run more", "no run with id 'no-such-run'"),
    ("feedback no-such-run ''", "no run with id 'no-such-run'"),
    ("answer no-such-run yes", "no run with id 'no-such-run'"),
    ("approve-tool no-such-run", "no run with id 'no-such-run'"),
    ("deny-tool no-such-run 'too risky'", "no run with id 'no-such-run'"),
    ("rewind no-such-run draft", "no run with id 'no-such-run'"),
    ("raise-budget no-such-run --tokens -5", "max_tokens_total: Input should be greater than or equal to 1"),
    ("raise-budget no-such-run --cost 0", "max_cost_usd: Input should be greater than 0"),
    ("raise-budget no-such-run --tokens many", "argument --tokens: invalid int value: 'many'"),
    ("snapshots list no-such-run", "no run with id 'no-such-run'"),
    ("snapshots diff no-such-run 1 2", "no run with id 'no-such-run'"),
    ("fork no-such-run --at 1", "no run with id 'no-such-run'"),
    ("fork no-such-run --at 1 --set draft", "STEP="),
    ("edit-output no-such-run draft @/nonexistent.md", "cannot read /nonexistent.md"),
    ("skip no-such-run draft 'not needed'", "no run with id 'no-such-run'"),
    ("set-agent no-such-run draft writer", "no run with id 'no-such-run'"),
    ("set-model no-such-run draft gpt-4o", "no run with id 'no-such-run'"),
    ("diff no-such-run other-run", "no run with id"),
    ("reseed /nonexistent --content tides", "/nonexistent"),
    ("trace", "--file"),
    ("trace --file /nonexistent.json", "not found"),
    ("replay --file /nonexistent.json", "not found"),
    ("replay --limit 0", "argument --limit: must be at least 1, not 0"),
    ("list --limit -1", "argument --limit: must be at least 1, not -1"),
    ("teleport", "invalid choice: 'teleport'"),
    ("list --pattern teleport", "teleport"),
    ("agents nobody", "nobody"),
    ("schema teleport", "teleport"),
    ("flow check /nonexistent.toml", "not found"),
]


async def starter(arguments: str, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "starter.py", *shlex.split(arguments), cwd=REPO_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode, out.decode()


async def test_every_command_with_bad_arguments_says_what_is_wrong_in_one_line(dev_env, tmp_path):
    env = {**os.environ, "TEMPORAL_ADDRESS": address_of(dev_env), "BATON_DATA_DIR": str(tmp_path), "COLUMNS": "400"}
    gate = asyncio.Semaphore(6)

    async def one(arguments: str) -> tuple[int, str]:
        async with gate:
            return await starter(arguments, env)

    answers = await asyncio.gather(*(one(arguments) for arguments, _ in CASES))
    problems = []
    for (arguments, expected), (code, out) in zip(CASES, answers):
        lines = [line for line in out.splitlines() if line.strip()]
        if code != 2 or len(lines) != 1 or not lines[0].startswith("error:") or expected not in lines[0]:
            problems.append(f"starter.py {arguments}: exit {code}: {out.strip()[-400:]!r} (expected {expected!r})")
    assert problems == [], "\n".join(problems)
    commands = {arguments.split()[0] for arguments, _ in CASES}
    from baton.cli import parser
    every = set(parser()._subparsers._group_actions[0].choices)  # noqa: SLF001 - the parser's own command list
    assert every - commands == {"run", "up", "down"} and "teleport" in commands
