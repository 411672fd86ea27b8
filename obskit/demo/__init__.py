"""The demo: deterministic voice-bot data, backfilled into a real Prometheus on 127.0.0.1.

>>> from obskit import demo
>>> demo.incidents()["name"].tolist()
['store_api_outage', 'tts_cache_cold', 'llm_slowdown', 'backup_failed']
"""

from .backfill import BuildReport, ensure_blocks
from .generate import DemoData, generate, write_openmetrics
from .scenario import PINNED_END, DemoSpec, incidents
from .server import DemoPrometheus, free_port
from .truth import Truth, truth

__all__ = [
    "PINNED_END",
    "BuildReport",
    "DemoData",
    "DemoPrometheus",
    "DemoSpec",
    "Truth",
    "ensure_blocks",
    "free_port",
    "generate",
    "incidents",
    "truth",
    "write_openmetrics",
]
