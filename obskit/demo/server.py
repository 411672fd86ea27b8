"""Run a real Prometheus on 127.0.0.1 over the demo data: context manager and background daemon."""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from .. import config
from ..errors import ConfigError, DemoError
from .backfill import BuildReport, ensure_blocks, find_binary
from .scenario import DemoSpec

__all__ = [
    "DemoPrometheus",
    "DemoServer",
    "free_port",
    "log_tail",
    "prometheus_argv",
    "status",
    "stop",
    "terminate",
    "wait_ready",
]

log = logging.getLogger("obskit")
HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _check_port(port: int) -> None:
    """Refuse a port something listens on; one the last server just left is free.

    ``SO_REUSEADDR`` as Prometheus (Go) sets it: connections of a server that just
    stopped linger in TIME_WAIT for up to a minute, and a plain ``bind`` would call the
    port busy although Prometheus can bind it at once. A listening socket still fails.
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            raise DemoError(
                f"port {port} on {HOST} is already in use: choose another with --port, "
                "or stop what listens there (`obskit demo status` shows a running demo)"
            ) from None


def _config_text(spec: DemoSpec, live_port: int | None, step: float | None = None) -> str:
    every = f"{round((step or spec.step) * 1000)}ms"
    lines = ["global:", f"  scrape_interval: {every}", f"  evaluation_interval: {every}"]
    if live_port:
        lines += [
            "scrape_configs:",
            "  - job_name: voicebot-live",
            "    honor_labels: true",
            "    static_configs:",
            f"      - targets: ['{HOST}:{live_port}']",
        ]
    return "\n".join(lines) + "\n"


def terminate(proc: subprocess.Popen[bytes] | None, timeout: float = 15.0) -> None:
    """Stop a child process: SIGTERM, then SIGKILL after ``timeout`` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


_PR_SET_PDEATHSIG = 1


def prometheus_argv(binary: str, config: Path, data: Path, port: int, *extra: str) -> list[str]:
    """A Prometheus on ``HOST:port`` over the TSDB at ``data``, keeping every sample.

    >>> prometheus_argv("prometheus", Path("p.yml"), Path("d"), 9090)[1:3]
    ['--config.file=p.yml', '--storage.tsdb.path=d']
    """
    return [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        f"--web.listen-address={HOST}:{port}",
        "--storage.tsdb.retention.time=100y",
        # Backfilled 2 h blocks stay as they are: no background compaction stealing CPU.
        "--storage.tsdb.max-block-duration=2h",
        *extra,
    ]


def wait_ready(
    proc: subprocess.Popen[bytes], url: str, timeout: float, log: Path, what: str = "Prometheus"
) -> None:
    """Wait until the Prometheus ``proc`` answers ``url``/-/ready; a DemoError naming ``what``
    and the last lines of its ``log`` when it exits first or is not ready in ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise DemoError(f"{what} exited with code {proc.returncode}: {log_tail(log)}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{url}/-/ready", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise DemoError(f"{what} on {url} was not ready within {timeout:.0f} s: {log_tail(log)}")


def log_tail(log: Path, lines: int = 3) -> str:
    """The last ``lines`` lines of a log file, joined with `` | `` (``(no log)`` if unreadable)."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return " | ".join(text.strip().splitlines()[-lines:])


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` that has Linux send ``sig`` to the child when this thread ends.

    So a demo server (or a test's exporter) does not outlive a parent killed with
    SIGKILL, which runs no cleanup. ``None`` off Linux or outside the main thread: the
    signal follows the thread that started the child, and a worker thread ending must
    not stop a server that is still in use.
    """
    if (
        not sys.platform.startswith("linux")
        or threading.current_thread() is not threading.main_thread()
    ):
        return None
    libc = ctypes.CDLL(None, use_errno=True)

    def arm() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)

    return arm


class DemoServer:
    """What the demo servers share: a spec and a port on 127.0.0.1 (tests use these names)."""

    spec: DemoSpec
    port: int | None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def end(self) -> datetime:
        return self.spec.end

    @property
    def start_time(self) -> datetime:
        return self.spec.start

    @property
    def step_seconds(self) -> int:
        return self.spec.step


@dataclass
class DemoPrometheus(DemoServer):
    """A real Prometheus over the demo data, bound to 127.0.0.1 only.

    With ``data=DIR`` it replays a fixture written by :func:`obskit.freeze` instead of
    the synthetic demo: the fixture is verified against its manifest, its blocks come
    from the cache (or promtool), and ``end`` (the pinned "now") is the fixture's end.

    >>> with DemoPrometheus(DemoSpec(days=1)) as prom:  # doctest: +SKIP
    ...     obskit.connect(prom.url).query("up")
    >>> with DemoPrometheus(data="notebooks/fixtures/exporters") as prom:  # doctest: +SKIP
    ...     prom.end
    """

    spec: DemoSpec = field(default_factory=DemoSpec)
    port: int | None = None
    workdir: Path | None = None
    cache: Path | None = None
    ready_timeout: float = 60.0
    live: bool = False
    data: Path | str | None = None
    manifest: dict[str, Any] | None = field(default=None, init=False, repr=False)
    live_port: int | None = field(default=None, init=False)
    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    simulator: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    build: BuildReport | None = field(default=None, init=False, repr=False)
    _own_workdir: bool = field(default=False, init=False, repr=False)

    def start(self, *, detach: bool = False) -> DemoPrometheus:
        """Build or reuse the data, start Prometheus and wait until it is ready."""
        binary = find_binary("prometheus")
        if self.data is not None and self.live:
            raise ConfigError(
                f"data={self.data} replays frozen data and live=True continues the demo from "
                "now: use one of them (`obskit demo start --data DIR` without --live)"
            )
        if self.port is None:
            self.port = free_port()
        else:
            _check_port(self.port)
        if self.data is not None:
            from . import replay

            self.build, self.manifest = replay.ensure_blocks(Path(self.data), root=self.cache)
        else:
            until = time.time() if self.live else None
            self.build = ensure_blocks(self.spec, root=self.cache, until=until)
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="obskit-demo-"))
            self._own_workdir = True
        data = self.workdir / "data"
        if data.exists():
            shutil.rmtree(data)
        shutil.copytree(self.build.path, data, ignore=shutil.ignore_patterns("manifest.json"))
        if self.live:
            self._start_simulator(detach)
        step = self.step_seconds if self.manifest else None
        (self.workdir / "prometheus.yml").write_text(_config_text(self.spec, self.live_port, step))
        log_file = (self.workdir / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            self._argv(binary, data),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=detach,
            preexec_fn=None if detach else die_with_parent(),
        )
        log_file.close()
        self._wait_ready()
        if self.data is not None:
            from . import replay

            replay.register(self.url, Path(self.data))
        return self

    @property
    def end(self) -> datetime:
        if self.manifest:
            return config.parse_instant(self.manifest["end"], "the fixture's end")
        return self.spec.end

    @property
    def start_time(self) -> datetime:
        if self.manifest:
            return config.parse_instant(self.manifest["start"], "the fixture's start")
        return self.spec.start

    @property
    def step_seconds(self) -> int:
        if self.manifest:
            return max(1, round(float(self.manifest.get("scrape_interval_seconds") or 1)))
        return self.spec.step

    def _start_simulator(self, detach: bool) -> None:
        """The live exporter (obskit.demo.live) on its own free loopback port."""
        import sys

        self.live_port = free_port()
        spec = self.spec
        argv = [sys.executable, "-m", "obskit.demo.live", "--end", spec.end.isoformat(),
                "--days", str(spec.days), "--step", str(spec.step), "--seed", str(spec.seed),
                "--port", str(self.live_port)]  # fmt: skip
        # Detached, it must not hold the caller's stdout: `obskit demo start --live | tail -1`
        # would wait for it forever. Its output goes to a log beside Prometheus' instead.
        out = (self.workdir / "simulator.log").open("wb") if detach and self.workdir else None
        self.simulator = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            start_new_session=detach,
            preexec_fn=None if detach else die_with_parent(),
        )
        if out is not None:
            out.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.simulator.poll() is not None:
                raise DemoError(f"the live simulator exited with code {self.simulator.returncode}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"http://{HOST}:{self.live_port}/metrics", timeout=1).ok:
                    return
            time.sleep(0.1)
        raise DemoError("the live simulator did not answer within 30 s")

    def _argv(self, binary: str, data: Path) -> list[str]:
        assert self.workdir is not None and self.port is not None
        return prometheus_argv(binary, self.workdir / "prometheus.yml", data, self.port,
                               "--web.enable-lifecycle")  # fmt: skip

    def _wait_ready(self) -> None:
        assert self.process is not None and self.workdir is not None
        try:
            wait_ready(self.process, self.url, self.ready_timeout, self.workdir / "prometheus.log")
        except DemoError:
            if self.process.poll() is None:  # not ready in time: do not leave it running
                self.stop()
            raise

    def stop(self) -> None:
        """Stop Prometheus and remove the run directory obskit created."""
        if self.data is not None and self.port is not None:
            from . import replay

            replay.register(self.url, None)
        terminate(self.process)
        terminate(self.simulator)
        self.process = self.simulator = None
        if self._own_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> DemoPrometheus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def state(self) -> dict[str, Any]:
        assert self.process is not None and self.workdir is not None
        state = {
            "pid": self.process.pid,
            "url": self.url,
            "port": self.port,
            "end": self.end.isoformat().replace("+00:00", "Z"),
            "days": self.spec.days,
            "step": self.spec.step,
            "seed": self.spec.seed,
            "workdir": str(self.workdir),
            "live": self.live,
            "helpers": [self.simulator.pid] if self.simulator else [],
        }
        if self.manifest is not None:
            span = (self.end - self.start_time).total_seconds()
            state |= {"data": str(Path(self.data).resolve()), "days": span / 86400,  # type: ignore[arg-type]
                      "step": self.step_seconds, "seed": None}  # fmt: skip
        return state


def write_state(state: dict[str, Any]) -> Path:
    path = config.state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    tmp.rename(path)
    return path


def status() -> dict[str, Any] | None:
    """The running background demo's state, or None."""
    return config.demo_state()


def _is_our_prometheus(state: dict[str, Any]) -> bool:
    try:
        cmdline = Path(f"/proc/{state['pid']}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return True  # no /proc (macOS): trust the recorded PID, checked alive by demo_state()
    return str(state.get("workdir", "\0")) in cmdline


def stop() -> str:
    """Stop the background demo by its recorded PID; say what was done."""
    state = config.demo_state()
    path = config.state_file()
    if state is None:
        path.unlink(missing_ok=True)
        return "no demo Prometheus is running"
    pids = [state["pid"], *state.get("helpers", [])]
    if not _is_our_prometheus(state):
        path.unlink(missing_ok=True)
        return f"PID {state['pid']} is no longer the demo Prometheus; removed the stale state file"
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    for pid in pids:
        _wait_gone(pid, 15.0)
    shutil.rmtree(state.get("workdir", ""), ignore_errors=True)
    path.unlink(missing_ok=True)
    return f"stopped the demo Prometheus on {state['url']} (PID {state['pid']})"


def _wait_gone(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
