"""Code functions the flow tests run (registered as a worker registers BATON_CODE modules)."""

from __future__ import annotations

from pydantic import BaseModel

from baton.code import function

ATTEMPTS: dict[str, int] = {}  # function -> calls so far in this process (retries counted)


class Counted(BaseModel):
    n: int
    done: bool


@function()
def count_up(n: int = 0, limit: int = 3) -> Counted:
    """Add one; done at the limit."""
    return Counted(n=n + 1, done=n + 1 >= limit)


@function()
async def shout(text: str) -> str:
    return text.upper()


@function(retries=2)
def explode(reason: str = "boom") -> str:
    ATTEMPTS["explode"] = ATTEMPTS.get("explode", 0) + 1
    raise RuntimeError(reason)


@function()
def numbers(count: int) -> list[int]:
    return list(range(1, count + 1))
