"""What the committed Grafana provisioning says about the Prometheus data source."""

from __future__ import annotations

from pathlib import Path

import yaml

from .._time import parse_duration
from ..errors import ConfigError, DashboardError
from .panels import DATASOURCE

__all__ = ["GRAFANA_DEFAULT_INTERVAL", "scrape_interval"]

#: Grafana's minimum step when a Prometheus data source sets no "Scrape interval".
GRAFANA_DEFAULT_INTERVAL = 15.0


def scrape_interval(grafana_dir: Path, uid: str = DATASOURCE["uid"]) -> float:
    """The ``timeInterval`` (Grafana's "Scrape interval") of data source ``uid``, in seconds.

    Read from ``provisioning/datasources/*.yml`` under ``grafana_dir``: Grafana uses it
    as the minimum ``$__interval`` and as the base of ``$__rate_interval``, so obskit
    expands a dashboard's macros with the same value. Without a provisioned data source
    (or without ``timeInterval``), Grafana's default of 15 s.

    >>> scrape_interval(Path("grafana"))  # doctest: +SKIP
    30.0
    """
    folder = grafana_dir / "provisioning" / "datasources"
    for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]):
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise DashboardError(
                f"cannot be read ({_reason(exc)}); fix the YAML: the Prometheus data source's "
                "timeInterval sets the scrape interval dashboards are checked with",
                path,
            ) from exc
        sources = loaded.get("datasources") if isinstance(loaded, dict) else None
        for source in sources if isinstance(sources, list) else []:
            if isinstance(source, dict) and source.get("uid") == uid:
                json_data = source.get("jsonData") or {}
                interval = json_data.get("timeInterval") if isinstance(json_data, dict) else None
                if interval in (None, ""):
                    return GRAFANA_DEFAULT_INTERVAL
                try:
                    return parse_duration(str(interval), "timeInterval")
                except ConfigError as exc:
                    raise DashboardError(
                        f"data source {uid!r} has timeInterval {interval!r}, which is not a "
                        "duration; write one like 30s",
                        path,
                    ) from exc
    return GRAFANA_DEFAULT_INTERVAL


def _reason(exc: Exception) -> str:
    """One line: where and what for a YAML syntax error, else the error itself."""
    mark = getattr(exc, "problem_mark", None)
    if isinstance(exc, yaml.MarkedYAMLError) and mark is not None:
        return f"YAML error at line {mark.line + 1}, column {mark.column + 1}: {exc.problem}"
    return str(exc)
