"""The condition language of flow edges (``when``) and node arguments: small,
safe, and never Python's ``eval``.

    review.score >= 7 and not review.blocking
    classify.label in ["tutorial", "guide"]
    "approved" in review            # a node without an output schema is its text
    (a.n > 1 or b.ok) and goal != ""

Values: numbers, 'strings' or "strings", true / false / null, lists ``[...]``,
and references: ``NODE`` (its structured output, or its text), ``NODE.field.sub``
(a field of its structured output), ``goal`` (the flow's goal). Operators:
``== != < <= > >=``, ``in`` / ``not in``, ``and`` / ``or`` / ``not``, parentheses.
Comparing values of different kinds (a number with a string) is an error, not
False: a condition that cannot be decided stops the run saying so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_LENGTH = 2_000


class ExpressionError(ValueError):
    """An expression that does not parse, or cannot be evaluated."""


@dataclass(frozen=True)
class Ref:
    path: tuple[str, ...]

    def __str__(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Const:
    value: Any


@dataclass(frozen=True)
class ListOf:
    items: tuple[Any, ...]


@dataclass(frozen=True)
class Not:
    operand: Any


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    operands: tuple[Any, ...]


@dataclass(frozen=True)
class Compare:
    op: str  # == != < <= > >= in "not in"
    left: Any
    right: Any


Node = Ref | Const | ListOf | Not | BoolOp | Compare

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,)
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_0-9][A-Za-z0-9_-]*)*)
""", re.VERBOSE)
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}
_CONSTANTS = {"true": True, "false": False, "null": None}
_COMPARISONS = ("==", "!=", "<=", ">=", "<", ">", "in")


def _tokens(text: str) -> list[tuple[str, str, int]]:
    found, at = [], 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise ExpressionError(f"unexpected {text[at]!r} at position {at + 1}")
        kind = match.lastgroup or ""
        if kind != "space":
            found.append((kind, match.group(), at))
        at = match.end()
    return found


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self) -> str | None:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str, int]:
        if self.at >= len(self.tokens):
            raise ExpressionError(f"ends early{f': expected {expected!r}' if expected else ''}")
        token = self.tokens[self.at]
        if expected is not None and token[1] != expected:
            raise ExpressionError(f"expected {expected!r} at position {token[2] + 1}, found {token[1]!r}")
        self.at += 1
        return token

    def parse(self) -> Node:
        node = self.or_()
        if self.at < len(self.tokens):
            kind, text, pos = self.tokens[self.at]
            raise ExpressionError(f"unexpected {text!r} at position {pos + 1}")
        return node

    def or_(self) -> Node:
        return self._joined("or", self.and_)

    def and_(self) -> Node:
        return self._joined("and", self.not_)

    def _joined(self, op: str, operand: Callable[[], Node]) -> Node:
        """``operand (op operand)*``: one operand alone, or their BoolOp."""
        operands = [operand()]
        while self.peek() == op:
            self.take()
            operands.append(operand())
        return operands[0] if len(operands) == 1 else BoolOp(op, tuple(operands))

    def not_(self) -> Node:
        if self.peek() == "not":
            self.take()
            return Not(self.not_())
        return self.comparison()

    def comparison(self) -> Node:
        left = self.value()
        op = self.peek()
        if op == "not" and self.at + 1 < len(self.tokens) and self.tokens[self.at + 1][1] == "in":
            self.take(), self.take()
            return Compare("not in", left, self.value())
        if op in _COMPARISONS:
            self.take()
            return Compare(op, left, self.value())
        return left

    def value(self) -> Node:
        kind, text, pos = self.take()
        if text == "(":
            node = self.or_()
            self.take(")")
            return node
        if text == "[":
            items: list[Node] = []
            while self.peek() != "]":
                items.append(self.value())
                if self.peek() != "]":
                    self.take(",")
            self.take("]")
            return ListOf(tuple(items))
        if kind == "number":
            return Const(float(text) if "." in text else int(text))
        if kind == "string":
            return Const(_unquote(text))
        if kind == "name" and text in _CONSTANTS:
            return Const(_CONSTANTS[text])
        if kind == "name" and text not in _KEYWORDS:
            return Ref(tuple(text.split(".")))
        raise ExpressionError(f"unexpected {text!r} at position {pos + 1}")


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def parse(text: str) -> Node:
    """The expression's tree; ExpressionError saying where it does not parse."""
    if not text.strip():
        raise ExpressionError("empty expression")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"longer than {MAX_LENGTH} characters")
    return _Parser(text).parse()


def refs(node: Node) -> list[Ref]:
    """Every reference in the expression, in order."""
    if isinstance(node, Ref):
        return [node]
    if isinstance(node, ListOf):
        return [r for item in node.items for r in refs(item)]
    if isinstance(node, Not):
        return refs(node.operand)
    if isinstance(node, BoolOp):
        return [r for operand in node.operands for r in refs(operand)]
    if isinstance(node, Compare):
        return refs(node.left) + refs(node.right)
    return []


def evaluate(node: Node, lookup: Callable[[Ref], Any]) -> Any:
    """The expression's value; ``lookup`` gives a reference's value (or raises ExpressionError)."""
    if isinstance(node, Const):
        return node.value
    if isinstance(node, Ref):
        return lookup(node)
    if isinstance(node, ListOf):
        return [evaluate(item, lookup) for item in node.items]
    if isinstance(node, Not):
        return not _truth(evaluate(node.operand, lookup))
    if isinstance(node, BoolOp):
        if node.op == "and":
            return all(_truth(evaluate(o, lookup)) for o in node.operands)
        return any(_truth(evaluate(o, lookup)) for o in node.operands)
    left, right = evaluate(node.left, lookup), evaluate(node.right, lookup)
    return _compare(node.op, left, right)


def holds(node: Node, lookup: Callable[[Ref], Any]) -> bool:
    return _truth(evaluate(node, lookup))


def _truth(value: Any) -> bool:
    if isinstance(value, bool | type(None)):
        return bool(value)
    if isinstance(value, int | float | str | list | dict):
        return bool(value)
    raise ExpressionError(f"{value!r} is not a condition")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", list: "list", dict: "object"}.get(type(value), type(value).__name__)


def _compare(op: str, left: Any, right: Any) -> bool:
    if op in ("in", "not in"):
        if isinstance(right, str) and not isinstance(left, str):
            raise ExpressionError(f"cannot look for a {_kind(left)} in a string")
        if not isinstance(right, str | list | dict):
            raise ExpressionError(f"'{op}' needs a list, string or object on its right, not a {_kind(right)}")
        return (left in right) == (op == "in")
    if op in ("==", "!="):
        if _kind(left) != _kind(right) and "null" not in (_kind(left), _kind(right)):
            raise ExpressionError(f"cannot compare a {_kind(left)} with a {_kind(right)}")
        return (left == right) == (op == "==")
    if _kind(left) != _kind(right) or _kind(left) not in ("number", "string"):
        raise ExpressionError(f"cannot order a {_kind(left)} and a {_kind(right)} with '{op}'")
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]
