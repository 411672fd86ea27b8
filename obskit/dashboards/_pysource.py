"""Python source text for generated dashboard sources: calls and JSON data as literals."""

from __future__ import annotations

import json
import keyword
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Call", "Name", "identifier", "literal"]

WIDTH = 99  # the project's line length


@dataclass(frozen=True)
class Name:
    """A bare name in the generated source (a panel variable, ``__file__``)."""

    name: str


@dataclass(frozen=True)
class Call:
    """``fn(*args, **kwargs)``: evaluated to check it, printed into the source."""

    fn: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    def evaluate(
        self, functions: Mapping[str, Callable[..., Any]], names: Mapping[str, Any]
    ) -> Any:
        def value(v: Any) -> Any:
            if isinstance(v, Call):
                return v.evaluate(functions, names)
            if isinstance(v, Name):
                return names[v.name]
            if isinstance(v, list):
                return [value(i) for i in v]
            if isinstance(v, tuple):
                return tuple(value(i) for i in v)
            if isinstance(v, dict):
                return {k: value(i) for k, i in v.items()}
            return v

        args = [value(a) for a in self.args]
        return functions[self.fn](*args, **{k: value(v) for k, v in self.kwargs.items()})


def literal(value: Any, indent: int = 0) -> str:
    """``value`` as Python source, on one line if it fits, else one item per line.

    >>> print(literal({"a": [1, True, None]}))
    {"a": [1, True, None]}
    """
    one = _inline(value)
    if len(one) + indent <= WIDTH or not _breakable(value):
        return one
    pad, inner = " " * indent, " " * (indent + 4)
    if isinstance(value, Call):
        items = [literal(a, indent + 4) for a in value.args]
        items += [f"{k}={literal(v, indent + 4)}" for k, v in value.kwargs.items()]
        return value.fn + "(\n" + "".join(f"{inner}{i},\n" for i in items) + pad + ")"
    if isinstance(value, dict):
        items = [f"{json.dumps(k)}: {literal(v, indent + 4)}" for k, v in value.items()]
        return "{\n" + "".join(f"{inner}{i},\n" for i in items) + pad + "}"
    opening, closing = ("(", ")") if isinstance(value, tuple) else ("[", "]")
    items = [literal(v, indent + 4) for v in value]
    return opening + "\n" + "".join(f"{inner}{i},\n" for i in items) + pad + closing


def _breakable(value: Any) -> bool:
    return isinstance(value, Call | dict | list | tuple) and bool(
        value.args or value.kwargs if isinstance(value, Call) else value
    )


def _inline(value: Any) -> str:
    if isinstance(value, Name):
        return value.name
    if isinstance(value, Call):
        parts = [_inline(a) for a in value.args]
        parts += [f"{k}={_inline(v)}" for k, v in value.kwargs.items()]
        return f"{value.fn}({', '.join(parts)})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple):
        inner = ", ".join(_inline(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    if isinstance(value, str):
        if '"' in value and "'" not in value and value.isprintable():
            return repr(value)  # 'a="b"' reads better than "a=\"b\""
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float):
        return (
            repr(value)
            if value == value and value not in (float("inf"), float("-inf"))
            else (f'float("{value}")')
        )
    return repr(value)


def identifier(text: str, taken: set[str]) -> str:
    """A fresh snake_case Python name for ``text`` (a panel title), not in ``taken``.

    >>> identifier("CPU busy (%)", {"cpu_busy"})
    'cpu_busy_2'
    """
    base = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower() or "panel"
    if base[0].isdigit():
        base = "panel_" + base
    if keyword.iskeyword(base) or base in ("p", "d", "dashboard"):
        base += "_panel"
    base = base[:40].rstrip("_")
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name
