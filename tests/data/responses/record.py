"""Re-record the Prometheus responses in this directory from a real Prometheus.

Run from the repository root: ``.venv/bin/python tests/data/responses/record.py``.
It starts the small backfilled Prometheus of ``tests/test_client.py`` on a free
loopback port, asks it each case below and writes the raw response body (re-indented
for reading) plus ``index.json`` with the HTTP status and the request of each file.
Only ``vector_warnings.json`` is edited by hand (see ``index.json``): Prometheus 2.42
does not produce ``warnings``/``infos`` for local data.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
from test_client import END, start_prometheus, stop_prometheus  # noqa: E402

T = END.timestamp()
RANGE = {"start": T - 600, "end": T, "step": 60}
NAN_INF = (
    '(obskit_test_temperature_celsius{room="kitchen"} / 0)'
    ' or (-obskit_test_temperature_celsius{room="lab"} / 0)'
    " or ((obskit_test_key - 1) / 0)"
)
CASES = {
    "matrix": ("query_range", {"query": "obskit_test_temperature_celsius", **RANGE}),
    "matrix_rate": ("query_range", {"query": "rate(obskit_test_requests_total[5m])", **RANGE}),
    "matrix_empty": ("query_range", {"query": "obskit_test_no_such_metric", **RANGE}),
    "matrix_nan_inf": ("query_range", {"query": NAN_INF, **RANGE}),
    "vector": ("query", {"query": "obskit_test_requests_total", "time": T}),
    "vector_empty": ("query", {"query": "obskit_test_no_such_metric", "time": T}),
    "scalar": ("query", {"query": "scalar(obskit_test_key) * 2", "time": T}),
    "string": ("query", {"query": '"hello"', "time": T}),
    "series": (
        "series",
        {"match[]": "obskit_test_temperature_celsius", "start": T - 600, "end": T},
    ),
    "error_400_bad_data": ("query", {"query": "rate(obskit_test_requests_total[5m]", "time": T}),
    "error_400_too_many_points": (
        "query_range",
        {"query": "obskit_test_key", "start": T - 6 * 3600, "end": T, "step": 1},
    ),
    "error_422_execution": (
        "query",
        {"query": "obskit_test_key * on(k) obskit_test_dup", "time": T},
    ),
    "error_503_timeout": (
        "query_range",
        {
            "query": 'count_over_time({__name__=~"obskit_test.*"}[6h])',
            **RANGE,
            "timeout": "0.000001",
        },
    ),
}


def record(url: str) -> dict[str, dict[str, object]]:
    index: dict[str, dict[str, object]] = {}
    for name, (endpoint, params) in CASES.items():
        response = requests.get(f"{url}/api/v1/{endpoint}", params=params, timeout=30)
        body = json.loads(response.content)
        (HERE / f"{name}.json").write_text(json.dumps(body, indent=1) + "\n")
        index[name] = {"endpoint": endpoint, "params": params, "status": response.status_code}
    return index


def add_warnings(index: dict[str, dict[str, object]]) -> None:
    body = json.loads((HERE / "vector.json").read_text())
    body["warnings"] = ["PromQL warning: encountered a mix of histograms and floats"]
    body["infos"] = ['PromQL info: metric might not be a counter: "obskit_test_key"']
    (HERE / "vector_warnings.json").write_text(json.dumps(body, indent=1) + "\n")
    index["vector_warnings"] = {
        **index["vector"],
        "note": "vector.json with warnings/infos added by hand, worded as Prometheus 2.50+ "
        "words them; 2.42 cannot produce them from local data",
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        process, url = start_prometheus(Path(tmp))
        try:
            version = requests.get(f"{url}/api/v1/status/buildinfo", timeout=5).json()
            index = record(url)
        finally:
            stop_prometheus(process)
    add_warnings(index)
    meta = {"prometheus": version["data"]["version"], "cases": index}
    (HERE / "index.json").write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
