"""grafanalib objects → the dashboard JSON Grafana 10/11 stores, rendered deterministically.

grafanalib 0.7.1 writes legacy fields (schema 12 keys, ``intervalFactor``/``step`` on
targets, a Grafana 7 gauge layout, null-valued options). This is the one place that
turns its output into what a current Grafana saves, so the committed files only hold
fields Grafana reads.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from typing import Any

import grafanalib.core as g
from grafanalib._gen import DashboardEncoder

log = logging.getLogger("obskit")

_DASHBOARD_KEYS = (
    "annotations", "description", "editable", "graphTooltip", "id", "links", "panels",
    "refresh", "schemaVersion", "tags", "templating", "time", "timepicker", "timezone",
    "title", "uid", "version",
)  # fmt: skip
_PANEL_KEYS = (
    "datasource", "description", "fieldConfig", "gridPos", "id", "interval", "maxDataPoints",
    "options", "targets", "timeFrom", "title", "transformations", "type",
)  # fmt: skip
#: What a Prometheus target needs in Grafana 10/11; grafanalib's legacy keys
#: (intervalFactor, step, metric, target, query, hide) are dropped.
TARGET_KEYS = (
    "datasource",
    "expr",
    "format",
    "instant",
    "interval",
    "legendFormat",
    "range",
    "refId",
)
_VARIABLE_KEYS = (
    "allValue", "current", "datasource", "definition", "hide", "includeAll", "label", "multi",
    "name", "options", "query", "refresh", "regex", "sort", "type",
)  # fmt: skip
BASE_STEP = {"color": "green", "value": None}


def to_data(dashboard: Any) -> dict[str, Any]:
    """The dashboard as Grafana 10/11 JSON data (ids assigned, legacy keys stripped).

    An imported dashboard (:class:`obskit.dashboards.imported.Board`) renders itself.
    """
    if not isinstance(dashboard, g.Dashboard):
        return dict(dashboard.to_data())
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):  # grafanalib print()s some warnings
        text = json.dumps(dashboard.auto_panel_ids().to_json_data(), cls=DashboardEncoder)
    if captured.getvalue().strip():
        log.warning("grafanalib: %s", captured.getvalue().strip())
    return normalise(json.loads(text))


def render(data: dict[str, Any]) -> str:
    """Deterministic JSON text: sorted keys, indent 2, trailing newline."""
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def normalise(data: dict[str, Any]) -> dict[str, Any]:
    """grafanalib's dashboard JSON reduced to what Grafana 10/11 saves."""
    out = {k: data[k] for k in _DASHBOARD_KEYS if k in data}
    out["panels"] = [_panel(p) for p in data.get("panels", [])]
    out["templating"] = {"list": [_variable(v) for v in data["templating"]["list"]]}
    out["timepicker"] = {}
    out["fiscalYearStartMonth"] = 0
    out["weekStart"] = ""
    return out


def normalise_panel(panel: dict[str, Any]) -> dict[str, Any]:
    """One grafanalib panel's JSON reduced to what Grafana 10/11 saves."""
    return _panel(panel)


def normalise_variable(var: dict[str, Any]) -> dict[str, Any]:
    """One grafanalib variable's JSON reduced to what Grafana 10/11 saves."""
    return _variable(var)


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def _panel(panel: dict[str, Any]) -> dict[str, Any]:
    out = {k: panel[k] for k in _PANEL_KEYS if panel.get(k) not in (None, [], "")}
    steps = _steps(panel)
    out["fieldConfig"] = _drop_none(out.get("fieldConfig", {}))
    out["fieldConfig"].setdefault("overrides", [])
    out["options"] = _drop_none(out.get("options", {}))
    fixer = _FIXERS.get(panel["type"])
    if fixer is not None:
        fixer(out)
    out["fieldConfig"]["defaults"]["thresholds"] = {"mode": "absolute", "steps": steps}
    out["targets"] = [_target(t) for t in panel["targets"]]
    return out


def _steps(panel: dict[str, Any]) -> list[dict[str, Any]]:
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    steps = defaults.get("thresholds", {}).get("steps") or [BASE_STEP]
    return [{"color": s["color"], "value": s.get("value")} for s in steps]


def _target(target: dict[str, Any]) -> dict[str, Any]:
    out = {k: target[k] for k in TARGET_KEYS if target.get(k) not in (None, "")}
    out["range"] = not target.get("instant", False)
    if out.get("format") != "table":
        out.pop("format", None)
    return out


def _fix_stat(panel: dict[str, Any]) -> None:
    defaults = panel["fieldConfig"]["defaults"]
    defaults["color"] = {"mode": "thresholds"}
    defaults.pop("custom", None)
    defaults.pop("noValue", None)
    panel["options"]["reduceOptions"]["fields"] = ""


def _fix_gauge(panel: dict[str, Any]) -> None:
    config = panel["fieldConfig"]
    defaults = config["defaults"]
    calcs = defaults.pop("calcs", ["lastNotNull"])
    values = defaults.pop("values", False)
    for legacy in ("override", "links", "limit", "title"):
        defaults.pop(legacy, None)
    defaults["color"] = {"mode": "thresholds"}
    panel["options"] = {
        "orientation": "auto",
        "reduceOptions": {"calcs": calcs, "fields": "", "values": values},
        "showThresholdLabels": config.pop("showThresholdLabels", False),
        "showThresholdMarkers": config.pop("showThresholdMarkers", True),
    }


def _fix_timeseries(panel: dict[str, Any]) -> None:
    custom = panel["fieldConfig"]["defaults"]["custom"]
    if custom.get("axisLabel") == "":
        del custom["axisLabel"]


def _fix_barchart(panel: dict[str, Any]) -> None:
    defaults = panel["fieldConfig"]["defaults"]
    if defaults.get("color", {}).get("fixedColor") == "none":
        del defaults["color"]["fixedColor"]
    if defaults.get("custom", {}).get("axisLabel") == "":
        del defaults["custom"]["axisLabel"]


def _fix_piechart(panel: dict[str, Any]) -> None:
    panel["fieldConfig"]["defaults"].pop("custom", None)


_FIXERS = {
    "stat": _fix_stat,
    "gauge": _fix_gauge,
    "timeseries": _fix_timeseries,
    "piechart": _fix_piechart,
    "barchart": _fix_barchart,
}


def _variable(var: dict[str, Any]) -> dict[str, Any]:
    out = {k: var[k] for k in _VARIABLE_KEYS if k in var}
    query = var["query"]
    out["definition"] = query
    out["query"] = {
        "qryType": 1,
        "query": query,
        "refId": "PrometheusVariableQueryEditor-VariableQuery",
    }
    out["regex"] = var.get("regex") or ""
    out["options"] = []
    default = var["current"].get("value")
    values = [default] if isinstance(default, str) else list(default or [])
    texts = ["All" if v == "$__all" else v for v in values]
    if var.get("multi"):
        out["current"] = {"selected": True, "text": texts, "value": values}
    else:
        out["current"] = {"selected": True, "text": texts[0], "value": values[0]}
    if not var.get("includeAll"):
        out.pop("allValue", None)
    return out
