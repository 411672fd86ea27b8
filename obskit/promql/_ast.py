"""Offline PromQL AST helpers: parse with located syntax errors, walk, and print back."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import promql_parser as pp

from .._time import format_duration
from ..errors import QuerySyntaxError
from ._macros import escape_body, placeholder, string_spans, substitute

Path = tuple[str, ...]

_MATCH_OPS = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}


def parse_text(expr: str, original: str | None = None) -> Any:
    """Parse ``expr`` (undeclared variables given placeholders); locate errors in ``original``."""
    text = substitute(expr, lambda ref: placeholder(ref, expr))
    try:
        return pp.parse(text)
    except ValueError as exc:
        raise syntax_error(original if original is not None else expr, str(exc)) from exc


def syntax_error(expr: str, message: str) -> QuerySyntaxError:
    """A :class:`QuerySyntaxError` for ``expr`` with ``offset``/``line``/``column`` and a caret.

    promql-parser reports no positions; they are found from its message (unclosed
    parenthesis, stray ``)``, unterminated string, bad duration, unknown function, ...).
    """
    offset = _locate(expr, message)
    line = column = None
    where = " (position unknown)"
    if offset is not None:
        line = expr.count("\n", 0, offset) + 1
        line_start = expr.rfind("\n", 0, offset) + 1
        column = offset - line_start + 1
        line_end = expr.find("\n", offset)
        text = expr[line_start : line_end if line_end >= 0 else len(expr)]
        where = f" at line {line}, column {column}:\n    {text}\n    {' ' * (column - 1)}^ here"
    err = QuerySyntaxError(f"{message}{where}", query=expr, error_type="bad_data")
    err.offset, err.line, err.column = offset, line, column  # type: ignore[attr-defined]
    return err


def _locate(expr: str, message: str) -> int | None:
    for pattern, finder in _LOCATORS:
        match = re.search(pattern, message)
        if match:
            return finder(expr, match)
    return None


def _outside_strings(expr: str) -> Iterator[tuple[int, str]]:
    inside = {p for s, e, _ in string_spans(expr) for p in range(s, e + 1)}
    return ((i, c) for i, c in enumerate(expr) if i not in inside)


def _unclosed(expr: str) -> int | None:
    stack: list[int] = []
    for i, char in _outside_strings(expr):
        if char == "(":
            stack.append(i)
        elif char == ")" and stack:
            stack.pop()
    return stack[-1] if stack else None


def _stray(expr: str) -> int | None:
    depth = 0
    for i, char in _outside_strings(expr):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return i
    return None


def _unterminated(expr: str) -> int | None:
    return next((s for s, e, _ in string_spans(expr) if e >= len(expr)), None)


def _char(expr: str, char: str) -> int | None:
    return next((i for i, c in _outside_strings(expr) if c == char), None)


def _find(expr: str, pattern: str) -> int | None:
    match = re.search(pattern, expr)
    return match.start() if match else None


_LOCATORS: tuple[tuple[str, Callable[[str, re.Match[str]], int | None]], ...] = (
    (r"unclosed left parenthesis", lambda e, m: _unclosed(e)),
    (r"unexpected right parenthesis", lambda e, m: _stray(e)),
    (r"unterminated quoted string", lambda e, m: _unterminated(e)),
    (r"unexpected end of input", lambda e, m: len(e.rstrip())),
    (r"unexpected character[^:]*: '(.)'", lambda e, m: _char(e, m.group(1))),
    (r"bad number or duration syntax: (\S+)", lambda e, m: _find(e, re.escape(m.group(1)))),
    (r"unknown function with name '(\w+)'", lambda e, m: _find(e, rf"\b{m.group(1)}\s*\(")),
    (r"call to (?:function )?'(\w+)'", lambda e, m: _find(e, rf"\b{m.group(1)}\s*\(")),
    (r"unknown escape sequence '(.)'", lambda e, m: _find(e, re.escape("\\" + m.group(1)))),
)


# -- walking ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Visit:
    """A node met while walking, with its path and its ancestors (outermost first)."""

    node: Any
    path: Path
    parents: tuple[Any, ...]

    @property
    def parent(self) -> Any:
        return self.parents[-1] if self.parents else None


def children(node: Any) -> list[tuple[str, Any]]:
    """``(name, child)`` pairs of a node, in source order."""
    if isinstance(node, pp.AggregateExpr):
        pairs = [("param", node.param)] if node.param is not None else []
        return [*pairs, ("expr", node.expr)]
    if isinstance(node, pp.BinaryExpr):
        return [("lhs", node.lhs), ("rhs", node.rhs)]
    if isinstance(node, pp.Call):
        return [(f"arg{i}", arg) for i, arg in enumerate(node.args)]
    if isinstance(node, pp.ParenExpr | pp.UnaryExpr | pp.SubqueryExpr):
        return [("expr", node.expr)]
    if isinstance(node, pp.MatrixSelector):
        return [("vs", node.vector_selector)]
    return []


def walk(node: Any, path: Path = (), parents: tuple[Any, ...] = ()) -> Iterator[Visit]:
    """Every node under ``node`` (itself first), depth-first."""
    yield Visit(node, path, parents)
    for name, child in children(node):
        yield from walk(child, (*path, name), (*parents, node))


def unwrap(node: Any) -> Any:
    """``node`` without enclosing parentheses."""
    while isinstance(node, pp.ParenExpr):
        node = node.expr
    return node


def func_name(node: Any) -> str | None:
    """The function name of a call node, else ``None``."""
    return node.func.name if isinstance(node, pp.Call) else None


def match_op(matcher: Any) -> str:
    """``=``, ``!=``, ``=~`` or ``!~`` for a promql-parser matcher."""
    return _MATCH_OPS[str(matcher.op).rsplit(".", 1)[-1]]


# -- printing --------------------------------------------------------------------------------


@dataclass
class Printer:
    """Prints an AST back to one line of PromQL.

    ``overrides`` maps a node path to replacement text (used to build fixes);
    ``durations`` maps milliseconds to the text to print (to put macros back).
    """

    overrides: Mapping[Path, str]
    durations: Mapping[int, str]

    def __call__(self, node: Any, path: Path = ()) -> str:
        if path in self.overrides:
            return self.overrides[path]
        kind = type(node).__name__
        return getattr(self, f"_{kind}")(node, path)

    def child(self, node: Any, path: Path, name: str) -> str:
        value = dict(children(node))[name]
        return self(value, (*path, name))

    def duration(self, delta: timedelta) -> str:
        ms = round(delta.total_seconds() * 1000)
        if ms in self.durations:
            return self.durations[ms]
        return ("-" + format_duration(-ms / 1000)) if ms < 0 else format_duration(ms / 1000)

    def _modifiers(self, vs: Any) -> str:
        text = ""
        if vs.offset is not None:
            text += f" offset {self.duration(vs.offset)}"
        if vs.at is not None:
            text += f" @ {_at(vs.at)}"
        return text

    def _VectorSelector(self, node: Any, path: Path) -> str:
        matchers = [
            f'{m.name}{match_op(m)}"{escape_body(m.value)}"'
            for m in node.matchers.matchers
            if not (node.name and m.name == "__name__")
        ]
        inner = "{" + ",".join(matchers) + "}" if matchers or not node.name else ""
        return f"{node.name or ''}{inner}{self._modifiers(node)}"

    def _MatrixSelector(self, node: Any, path: Path) -> str:
        return self.matrix(node, path, self.duration(node.range))

    def matrix(self, node: Any, path: Path, window: str) -> str:
        """A matrix selector printed with ``window`` as its range."""
        vs = node.vector_selector
        base, modifiers = self(vs, (*path, "vs")), self._modifiers(vs)
        plain = base.removesuffix(modifiers) if modifiers else base
        return f"{plain}[{window}]{modifiers}"

    def _SubqueryExpr(self, node: Any, path: Path) -> str:
        step = f":{self.duration(node.step)}" if node.step else ":"
        text = f"{self.child(node, path, 'expr')}[{self.duration(node.range)}{step}]"
        return text + self._modifiers(node)

    def _Call(self, node: Any, path: Path) -> str:
        args = ", ".join(self(arg, (*path, f"arg{i}")) for i, arg in enumerate(node.args))
        return f"{node.func.name}({args})"

    def _AggregateExpr(self, node: Any, path: Path) -> str:
        args = ", ".join(self(child, (*path, name)) for name, child in children(node))
        modifier = node.modifier
        if modifier is None:
            return f"{node.op}({args})"
        word = "by" if str(modifier.type).endswith("By") else "without"
        return f"{node.op} {word} ({', '.join(modifier.labels)}) ({args})"

    def _BinaryExpr(self, node: Any, path: Path) -> str:
        middle = f" {node.op}"
        modifier = node.modifier
        if modifier is not None:
            middle += " bool" if modifier.return_bool else ""
            if modifier.matching is not None:
                word = "on" if str(modifier.matching.type).endswith("Include") else "ignoring"
                middle += f" {word} ({', '.join(modifier.matching.labels)})"
            card = str(modifier.card).rsplit(".", 1)[-1]
            if card in ("ManyToOne", "OneToMany"):
                side = "group_left" if card == "ManyToOne" else "group_right"
                middle += f" {side} ({', '.join(modifier.group_labels or [])})"
        lhs, rhs = self.child(node, path, "lhs"), self.child(node, path, "rhs")
        return f"{lhs}{middle} {rhs}"

    def _ParenExpr(self, node: Any, path: Path) -> str:
        return f"({self.child(node, path, 'expr')})"

    def _UnaryExpr(self, node: Any, path: Path) -> str:
        return f"-{self.child(node, path, 'expr')}"

    def _NumberLiteral(self, node: Any, path: Path) -> str:
        return number(node.val)

    def _StringLiteral(self, node: Any, path: Path) -> str:
        return f'"{escape_body(node.val)}"'


def number(value: float) -> str:
    """A float as PromQL writes it (``1``, ``0.95``, ``Inf``, ``NaN``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _at(at: Any) -> str:
    kind = str(at.type).rsplit(".", 1)[-1]
    if kind == "Start":
        return "start()"
    if kind == "End":
        return "end()"
    return f"{at.at.timestamp():.3f}"
