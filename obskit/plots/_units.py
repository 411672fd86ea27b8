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

from ..catalog import find_metric
from ..promql._expr import Expr

_HOVER = ",.4~r"  # d3: 4 significant digits, thousands separators, no trailing zeros
_IEC = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
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
        return _series_unit(str(names[0]))
    return query_unit(str(frame.attrs.get("query") or ""))


def query_unit(query: str) -> str | None:
    """The unit of a PromQL expression's result: :attr:`obskit.promql.Expr.unit`.

    A query that does not parse gets the unit of the first catalog metric it names.

    >>> query_unit('sum(rate(voicebot_calls_total{outcome="bot_resolved"}[1h]))'
    ...            ' / (sum(rate(voicebot_calls_total[1h])) > 0)')
    'percentunit'
    >>> query_unit("histogram_quantile(0.95, sum by (le) (rate(voicebot_llm_latency_seconds_bucket[5m])))")
    's'
    """
    expr = _parsed(query)
    if expr is not None:
        return expr.unit
    metrics = (find_metric(n) for n in _NAME.findall(query))
    return next((m.unit for m in metrics if m is not None), None)


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


def _series_unit(name: str) -> str | None:
    metric = find_metric(name)
    if metric is None:
        return None
    if metric.type == "histogram" and name.endswith(("_bucket", "_count")):
        return "short"
    return metric.unit


def _first_name_in(query: str) -> str | None:
    expr = _parsed(query)
    if expr is not None:
        return expr.metrics[0] if expr.metrics else None
    return next((n for n in _NAME.findall(query) if find_metric(n)), None)


def _parsed(query: str) -> Expr | None:
    """The parsed query, or ``None`` for an empty one or one that does not parse."""
    expr = Expr.of(query) if query.strip() else None
    return expr if expr is not None and expr.syntax_error is None else None
