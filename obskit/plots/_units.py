"""Grafana unit ids for plots: which unit a frame is in, and how figures scale and label it.

One :class:`Display` per figure: plotted value = raw value × ``factor``. Seconds switch
to ms/µs below one second, bytes to IEC prefixes (KiB = 1024 B, MiB, GiB, ...): the
data is scaled and the axis title names the unit, so ticks, hover text and indicator
numbers all agree. Percent units use d3's ``%`` format (0.95 → 95%).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import promql_parser as pp

from ..catalog import find_metric
from ..errors import QuerySyntaxError
from ..promql._ast import parse_text, unwrap

_HOVER = ",.4~r"  # d3: 4 significant digits, thousands separators, no trailing zeros
_IEC = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
_RATE_FUNCS = {"rate", "irate", "deriv"}
_PER_SECOND = {"short": "cps", "bytes": "Bps", "s": "percentunit", "currencyUSD": "USD/s"}
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


@dataclass(frozen=True)
class Display:
    """How one figure shows values of one unit.

    ``factor`` multiplies raw values; ``title`` is the axis title; ``prefix``/``suffix``
    go around numbers in hover text and indicators; ``tickformat``/``hoverformat`` are
    d3 formats; ``axis_type`` is ``"date"`` for timestamps; ``ticks`` fixes tick labels.
    """

    unit: str
    title: str = ""
    factor: float = 1.0
    prefix: str = ""
    suffix: str = ""
    tickformat: str = ""
    hoverformat: str = _HOVER
    axis_type: str = ""
    ticks: tuple[tuple[float, str], ...] = ()

    def scale(self, values: Any) -> np.ndarray:
        """Raw values in display units, as float64 (NaN stays NaN)."""
        return np.asarray(values, dtype=np.float64) * self.factor

    def axis(self) -> dict[str, Any]:
        """Plotly axis properties (only those that are set, to keep figure JSON small)."""
        out: dict[str, Any] = {"title": {"text": self.title}} if self.title else {}
        extra = {"tickformat": self.tickformat, "tickprefix": self.prefix, "type": self.axis_type}
        out.update({k: v for k, v in extra.items() if v})
        if self.ticks:
            out["tickvals"] = [v for v, _ in self.ticks]
            out["ticktext"] = [t for _, t in self.ticks]
        return out

    def hovertemplate(self, axis: str = "y") -> str:
        """A plotly hovertemplate showing ``axis``'s value with the unit."""
        sep = "|" if self.axis_type == "date" else ":"
        return f"{self.prefix}%{{{axis}{sep}{self.hoverformat}}}{self.suffix}"

    def number(self) -> dict[str, Any]:
        """``go.Indicator`` number properties."""
        out = {"valueformat": self.hoverformat, "prefix": self.prefix, "suffix": self.suffix}
        return {k: v for k, v in out.items() if v}


def peak(values: Any) -> float:
    """The largest finite absolute value (0.0 when there is none)."""
    arr = np.abs(np.asarray(values, dtype=np.float64))
    arr = arr[np.isfinite(arr)]
    return float(arr.max()) if arr.size else 0.0


def display(unit: str | None, values: Any = ()) -> Display:
    """The display for ``unit`` (a Grafana unit id) chosen from the size of ``values``.

    >>> d = display("s", [0.12, 0.35])
    >>> d.title, d.factor, d.suffix
    ('duration (ms)', 1000.0, ' ms')
    >>> display("bytes", [3 * 2**30]).title
    'bytes (GiB)'
    """
    top = peak(values)
    maker = _DISPLAYS.get(unit or "short")
    if maker is not None:
        return maker(top)
    return Display(unit=str(unit), title=str(unit), suffix=f" {unit}")


def indicator_display(unit: str | None, values: Any = ()) -> Display:
    """Like :func:`display`, for ``go.Indicator`` numbers (which cannot show dates)."""
    if unit == "dateTimeAsIso":
        return Display(unit, title="unix time", suffix=" s", hoverformat=".0f")
    return display(unit, values)


def format_value(unit: str | None, value: float) -> str:
    """One value as text in its own best display (for bucket labels): ``"50 ms"``, ``"+Inf"``.

    >>> format_value("s", 0.05), format_value("s", 2.5), format_value("s", float("inf"))
    ('50 ms', '2.5 s', '+Inf')
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    d = display(unit, [value])
    if d.tickformat == "~%":
        return f"{value * 100:.4g}%"
    return f"{d.prefix}{value * d.factor:.4g}{d.suffix}"


def _seconds(top: float) -> Display:
    for limit, factor, name in ((1e-3, 1e6, "µs"), (1.0, 1e3, "ms")):
        if 0 < top < limit:
            return Display("s", f"duration ({name})", factor, suffix=f" {name}")
    return Display("s", "duration (s)", suffix=" s")


def _millis(top: float) -> Display:
    shown = _seconds(top / 1000)
    return replace(shown, unit="ms", factor=shown.factor / 1000)


def _iec(unit: str, per: str) -> Callable[[float], Display]:
    def make(top: float) -> Display:
        power = min(int(math.log(top, 1024)), len(_IEC) - 1) if top >= 1024 else 0
        name = f"{_IEC[power]}{per}"
        title = f"bytes{per} ({name})"
        return Display(unit, title, 1.0 / 1024**power, suffix=f" {name}")

    return make


def _fixed(**fields: Any) -> Callable[[float], Display]:
    return lambda top: Display(**fields)


_DISPLAYS: dict[str, Callable[[float], Display]] = {
    "s": _seconds,
    "ms": _millis,
    "bytes": _iec("bytes", ""),
    "Bps": _iec("Bps", "/s"),
    "percentunit": _fixed(unit="percentunit", title="percent", tickformat="~%", hoverformat=".2~%"),
    "percent": _fixed(unit="percent", title="percent", suffix="%"),
    "currencyUSD": _fixed(unit="currencyUSD", title="USD", prefix="$"),
    "short": _fixed(unit="short"),
    "none": _fixed(unit="none"),
    "cps": _fixed(unit="cps", title="per second", suffix="/s"),
    "reqps": _fixed(unit="reqps", title="requests/s", suffix=" req/s"),
    "ops": _fixed(unit="ops", title="operations/s", suffix=" ops/s"),
    "bool": _fixed(unit="bool", hoverformat=".0f", ticks=((0.0, "false"), (1.0, "true"))),
    "dateTimeAsIso": _fixed(
        unit="dateTimeAsIso",
        title="time (UTC)",
        factor=1000.0,
        hoverformat="%Y-%m-%d %H:%M:%S",
        axis_type="date",
    ),
}


# -- which unit a frame is in ------------------------------------------------------------------


def unit_of(frame: pd.DataFrame) -> str | None:
    """The Grafana unit of a frame's values, from the catalog; ``None`` when unknown.

    The metric comes from a single-valued ``__name__`` column, else from the query in
    ``frame.attrs["query"]``: ``rate()`` of a counter is per second (bytes → ``Bps``,
    seconds → ``percentunit``, counts → ``cps``), ``a / b`` of one unit is a ratio
    (``percentunit``), ``histogram_quantile`` keeps the histogram's unit and
    ``_bucket``/``_count`` series are counts.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"timestamp": [], "value": []})
    >>> df.attrs["query"] = "sum(rate(node_network_receive_bytes_total[5m]))"
    >>> unit_of(df)
    'Bps'
    """
    names = frame["__name__"].dropna().unique() if "__name__" in frame.columns else []
    if len(names) == 1:
        return _final(_series_unit(str(names[0])))
    return query_unit(str(frame.attrs.get("query") or ""))


def query_unit(query: str) -> str | None:
    """The unit of a PromQL expression's result, from the catalog metrics it names.

    >>> query_unit('sum(rate(voicebot_calls_total{outcome="bot_resolved"}[1h]))'
    ...            ' / (sum(rate(voicebot_calls_total[1h])) > 0)')
    'percentunit'
    >>> query_unit("histogram_quantile(0.95, sum by (le) (rate(voicebot_llm_latency_seconds_bucket[5m])))")
    's'
    """
    if not query.strip():
        return None
    try:
        return _final(_node_unit(parse_text(query)))
    except QuerySyntaxError:
        units = (_series_unit(n) for n in _NAME.findall(query))
        return _final(next((u for u in units if u), None))


def bucket_unit(frame: pd.DataFrame) -> str | None:
    """The unit of a bucket frame's ``le`` bounds: the histogram family's own unit.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"timestamp": [], "value": []})
    >>> df.attrs["query"] = "sum by (le) (rate(voicebot_stt_latency_seconds_bucket[5m]))"
    >>> bucket_unit(df)
    's'
    """
    names = frame["__name__"].dropna().unique() if "__name__" in frame.columns else []
    if len(names) == 1:
        name: str | None = str(names[0])
    else:
        name = _first_name_in(str(frame.attrs.get("query") or ""))
    metric = find_metric(name) if name else None
    return metric.unit if metric else None


_Unit = tuple[str, bool]  # (base unit, per second)


def _series_unit(name: str) -> _Unit | None:
    metric = find_metric(name)
    if metric is None:
        return None
    if metric.type == "histogram" and name.endswith(("_bucket", "_count")):
        return ("short", False)
    return (metric.unit, False)


def _final(unit: _Unit | None) -> str | None:
    if unit is None:
        return None
    base, per_second = unit
    return _PER_SECOND.get(base, f"{base}/s") if per_second else base


def _node_unit(node: Any) -> _Unit | None:
    node = unwrap(node)
    if isinstance(node, pp.VectorSelector):
        return _series_unit(node.name) if node.name else None
    if isinstance(node, pp.MatrixSelector):
        return _node_unit(node.vector_selector)
    if isinstance(node, pp.BinaryExpr):
        return _binary_unit(str(node.op), _node_unit(node.lhs), _node_unit(node.rhs))
    if isinstance(node, pp.AggregateExpr):
        return (
            ("short", False) if str(node.op) in ("count", "count_values") else _node_unit(node.expr)
        )
    if isinstance(node, pp.Call):
        return _call_unit(node)
    if isinstance(node, pp.UnaryExpr | pp.SubqueryExpr):
        return _node_unit(node.expr)
    return None


def _binary_unit(op: str, left: _Unit | None, right: _Unit | None) -> _Unit | None:
    if op == "-" and "dateTimeAsIso" in (left and left[0], right and right[0]):
        return ("s", False)  # time() - last_success_timestamp: an age
    if op != "/" or left is None or right is None:
        return left or right
    if left[1] != right[1] and not left[1]:
        return None  # a plain value divided by a rate
    per_second = left[1] and not right[1]
    if left[0] == right[0]:
        return ("short" if left[0] in ("percentunit", "percent") else "percentunit", per_second)
    return (left[0], per_second) if right[0] == "short" else None


def _call_unit(node: Any) -> _Unit | None:
    name = node.func.name
    args = list(node.args)
    if name == "histogram_quantile" and len(args) == 2:
        inner = _first_name(args[1])
        metric = find_metric(inner) if inner else None
        return (metric.unit, False) if metric else None
    units = [u for u in (_node_unit(a) for a in args) if u]
    if not units:
        return None
    return (units[0][0], True) if name in _RATE_FUNCS else units[0]


def _first_name_in(query: str) -> str | None:
    try:
        return _first_name(parse_text(query)) if query.strip() else None
    except QuerySyntaxError:
        return next((n for n in _NAME.findall(query) if find_metric(n)), None)


def _first_name(node: Any) -> str | None:
    node = unwrap(node)
    if isinstance(node, pp.VectorSelector):
        return node.name
    if isinstance(node, pp.MatrixSelector):
        return _first_name(node.vector_selector)
    for child in (getattr(node, attr, None) for attr in ("expr", "lhs", "rhs")):
        found = _first_name(child) if child is not None else None
        if found:
            return found
    if isinstance(node, pp.Call):
        return next((n for n in (_first_name(a) for a in node.args) if n), None)
    return None
