"""The demo data in a real VictoriaMetrics (single node), to check obskit against another engine.

VictoriaMetrics serves the Prometheus query API (the same API its cluster build, Mimir-style
deployments and Thanos serve), so obskit's client and validation should behave the same there.
"""

from __future__ import annotations

import contextlib
import gzip
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from ..errors import DemoError
from .generate import DemoData, generate, render_window, windows
from .scenario import DemoSpec
from .server import HOST, DemoServer, die_with_parent, free_port, terminate

__all__ = ["DemoVictoriaMetrics"]


def _import_text(data: DemoData, lo: int, hi: int) -> bytes:
    """Exposition lines with millisecond timestamps, as /api/v1/import/prometheus wants them."""
    lines = render_window(data, lo, hi).splitlines()
    out = []
    for line in lines:
        if line.startswith("#"):
            continue
        head, ts = line.rsplit(" ", 1)
        out.append(f"{head} {ts}000")
    return ("\n".join(out) + "\n").encode()


@dataclass
class DemoVictoriaMetrics(DemoServer):
    """A VictoriaMetrics process on 127.0.0.1 holding the demo data; a context manager.

    >>> with DemoVictoriaMetrics(DemoSpec(days=1)) as vm:  # doctest: +SKIP
    ...     obskit.connect(vm.url).query("up")
    """

    spec: DemoSpec = field(default_factory=DemoSpec)
    port: int | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    workdir: Path | None = field(default=None, init=False)

    def start(self) -> DemoVictoriaMetrics:
        binary = shutil.which("victoria-metrics")
        if not binary:
            raise DemoError(
                "`victoria-metrics` was not found on PATH: install it with "
                "`sudo apt-get install victoria-metrics` (Debian/Ubuntu)"
            )
        self.port = self.port or free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="obskit-vm-"))
        argv = [
            binary,
            f"-storageDataPath={self.workdir / 'data'}",
            f"-httpListenAddr={HOST}:{self.port}",
            "-retentionPeriod=100y",
            "-search.disableCache",
        ]
        log = (self.workdir / "vm.log").open("wb")
        self.process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, preexec_fn=die_with_parent()
        )
        log.close()
        self._wait_ready()
        self._load()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise DemoError(f"victoria-metrics exited with code {self.process.returncode}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/health", timeout=1).ok:
                    return
            time.sleep(0.1)
        raise DemoError(f"victoria-metrics on {self.url} was not ready within 30 s")

    def _load(self) -> None:
        data = generate(self.spec)
        with requests.Session() as session:
            for lo, hi in windows(self.spec):
                body = gzip.compress(_import_text(data, lo, hi), compresslevel=1)
                resp = session.post(
                    f"{self.url}/api/v1/import/prometheus",
                    data=body,
                    headers={"Content-Encoding": "gzip"},
                    timeout=120,
                )
                if resp.status_code >= 300:
                    raise DemoError(f"victoria-metrics refused the demo data: {resp.text[:300]}")
            session.get(f"{self.url}/internal/force_flush", timeout=60)
            self._wait_searchable(session)

    def _wait_searchable(self, session: requests.Session, timeout: float = 60.0) -> None:
        """Wait until the newest imported sample answers queries (ingestion is asynchronous)."""
        end = self.spec.end.timestamp()
        params: dict[str, str | float] = {
            "query": "max(timestamp(voicebot_active_calls))",
            "time": end,
        }
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = session.get(f"{self.url}/api/v1/query", params=params, timeout=10).json()
            result = body.get("data", {}).get("result", [])
            if result and float(result[0]["value"][1]) >= end:
                return
            time.sleep(0.2)
        raise DemoError(
            f"victoria-metrics on {self.url} did not show the imported data within {timeout:.0f} s"
        )

    def stop(self) -> None:
        terminate(self.process)
        self.process = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> DemoVictoriaMetrics:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
