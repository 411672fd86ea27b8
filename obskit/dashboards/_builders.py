"""Panel JSON → the :mod:`obskit.panels` call that may build it (the import checks it does).

Each reader takes the arguments a builder would need from the stored panel; a reader
that cannot find them returns ``None``. Whether the call really gives the same panel
back is decided by building it (:func:`obskit.dashboards._import._same_panel`).
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Callable
from typing import Any

from grafanalib._gen import DashboardEncoder

from . import _json as _dashjson
from . import imported, panels
from ._pysource import Call

__all__ = ["FUNCTIONS", "builder_call", "variable_call"]

FUNCTIONS: dict[str, Callable[..., Any]] = {
    **{f"p.{n}": getattr(panels, n) for n in (
        "barchart", "dashboard", "gauge", "mappings", "piechart", "row", "stat", "target",
        "thresholds", "timeseries", "variable",
    )},
    **{f"d.{n}": getattr(imported, n) for n in ("dashboard", "panel", "place", "with_id")},
}  # fmt: skip
_LABEL_VALUES = re.compile(r"^label_values\((?P<metric>.+), (?P<label>\w+)\)$")


def builder_call(data: dict[str, Any]) -> Call | None:
    """The builder call for a panel, or ``None`` when no builder fits its type."""
    reader = _READERS.get(str(data.get("type")))
    if reader is None or not isinstance(data.get("targets"), list) or not data["targets"]:
        return None
    try:
        return reader(data)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        return None


def _defaults(data: dict[str, Any]) -> dict[str, Any]:
    return dict((data.get("fieldConfig") or {}).get("defaults") or {})


def _head(data: dict[str, Any]) -> tuple[Any, ...]:
    targets = [_target(t, i) for i, t in enumerate(data["targets"])]
    return (data["title"], data["description"], targets)


def _target(t: dict[str, Any], index: int) -> Call:
    kwargs: dict[str, Any] = {}
    if t.get("instant"):
        kwargs["instant"] = True
    if t.get("format") == "table":
        kwargs["table"] = True
    if t.get("refId") != string.ascii_uppercase[index]:
        kwargs["ref_id"] = t["refId"]
    return Call("p.target", (t["expr"], t.get("legendFormat", "")), kwargs)


def _steps(data: dict[str, Any]) -> Call | None:
    steps = (_defaults(data).get("thresholds") or {}).get("steps") or []
    if not steps or steps[0].get("value") is not None:
        raise ValueError("no base step")
    rest = tuple((s["value"], s["color"]) for s in steps[1:])
    return Call("p.thresholds", (steps[0]["color"], *rest))


def _timeseries(data: dict[str, Any]) -> Call:
    defaults = _defaults(data)
    custom = defaults.get("custom") or {}
    kwargs: dict[str, Any] = {"unit": defaults["unit"]}
    if (custom.get("thresholdsStyle") or {}).get("mode") == "line":
        kwargs["steps"] = _steps(data)
    if custom.get("drawStyle") == "bars":
        kwargs["bars"] = True
    for key, name in (("interval", "interval"), ("timeFrom", "time_from")):
        if data.get(key):
            kwargs[name] = data[key]
    if custom.get("axisSoftMax") is not None:
        kwargs["soft_max"] = custom["axisSoftMax"]
    return Call("p.timeseries", _head(data), kwargs)


def _stat(data: dict[str, Any]) -> Call:
    defaults = _defaults(data)
    kwargs: dict[str, Any] = {"unit": defaults["unit"]}
    steps = _steps(data)
    if steps is not None and steps.args != ("blue",):
        kwargs["steps"] = steps
    found = defaults.get("mappings") or []
    if found:
        kwargs["value_mappings"] = _mappings(found)
    if data.get("timeFrom"):
        kwargs["time_from"] = data["timeFrom"]
    if defaults.get("decimals") is not None:
        kwargs["decimals"] = defaults["decimals"]
    return Call("p.stat", _head(data), kwargs)


def _mappings(found: list[dict[str, Any]]) -> Call:
    if len(found) != 1 or found[0].get("type") != "value":
        raise ValueError("only one value mapping is modelled")
    options = sorted(found[0]["options"].items(), key=lambda kv: kv[1]["index"])
    values = {_number(k): (o["text"], o["color"]) for k, o in options}
    return Call("p.mappings", (values,))


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value


def _gauge(data: dict[str, Any]) -> Call:
    defaults = _defaults(data)
    kwargs: dict[str, Any] = {"unit": defaults["unit"], "steps": _steps(data)}
    if defaults.get("min", 0) != 0:
        kwargs["low"] = defaults["min"]
    if defaults.get("max", 1) != 1:
        kwargs["high"] = defaults["max"]
    return Call("p.gauge", _head(data), kwargs)


def _piechart(data: dict[str, Any]) -> Call:
    kwargs: dict[str, Any] = {"unit": _defaults(data)["unit"]}
    if (data.get("options") or {}).get("pieType") == "pie":
        kwargs["donut"] = False
    return Call("p.piechart", _head(data), kwargs)


def _barchart(data: dict[str, Any]) -> Call:
    kwargs = {"unit": _defaults(data)["unit"], "x_field": data["options"]["xField"]}
    return Call("p.barchart", _head(data), kwargs)


_READERS: dict[str, Callable[[dict[str, Any]], Call]] = {
    "timeseries": _timeseries,
    "stat": _stat,
    "gauge": _gauge,
    "piechart": _piechart,
    "barchart": _barchart,
}


def variable_call(var: dict[str, Any]) -> Any:
    """``p.variable(...)`` when it builds exactly ``var``, else ``var`` itself (as data)."""
    match = _LABEL_VALUES.match(str(var.get("definition") or ""))
    if var.get("type") != "query" or match is None:
        return var
    current = (var.get("current") or {}).get("value")
    default = current[0] if isinstance(current, list) and len(current) == 1 else current
    kwargs: dict[str, Any] = {}
    label = match["label"]
    if var.get("label") != label.replace("_", " ").capitalize():
        kwargs["text"] = var.get("label")
    if default != panels.ALL:
        kwargs["default"] = default
    if not var.get("multi"):
        kwargs["multi"] = False
    call = Call("p.variable", (var["name"], match["metric"], label), kwargs)
    try:
        built = call.evaluate(FUNCTIONS, {})
        text = json.dumps(built.to_json_data(), cls=DashboardEncoder)
        same = json.dumps(_dashjson.normalise_variable(json.loads(text)), sort_keys=True)
    except Exception:
        return var
    return call if same == json.dumps(var, sort_keys=True) else var
