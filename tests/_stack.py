"""A real monitoring stack on 127.0.0.1 for tests: PostgreSQL, Redis, their exporters, Prometheus.

Everything runs as plain child processes under one temporary directory, each in its own
process group so teardown can kill stragglers and prove that nothing is left. PostgreSQL
refuses to run as root: as root, ``initdb`` and ``postgres`` run as the ``postgres`` user
(``subprocess`` switches user in the child; no ``runuser``/``su`` in between, so the PID
we hold is the postmaster's). A thread of the test process plays the voice bot: it times
real queries against that PostgreSQL into ``voicebot_db_query_duration_seconds``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import psutil
import requests
from prometheus_client import CollectorRegistry, Histogram, start_http_server

from obskit.catalog import CATALOG_BY_NAME
from obskit.demo.server import die_with_parent, free_port

HOST = "127.0.0.1"
DATABASE = "voicebot"
DB_METRIC = CATALOG_BY_NAME["voicebot_db_query_duration_seconds"]
EXPORTERS = {
    "node": "prometheus-node-exporter",
    "postgres": "prometheus-postgres-exporter",
    "redis": "prometheus-redis-exporter",
}
JOBS = (*EXPORTERS, "voicebot")
# What the bot does against its database, one statement per catalog `operation`.
STATEMENTS = {
    "select": "SELECT count(*) FROM orders WHERE status = 'new'",
    "insert": "INSERT INTO orders (status) VALUES ('new')",
    "update": "UPDATE orders SET status = 'done' WHERE id = (SELECT max(id) FROM orders)",
}
REDIS_COMMANDS = (
    "SET obskit:last 1\nGET obskit:last\nINCR obskit:n\nLPUSH obskit:l x\nLTRIM obskit:l 0 99\n"
)
_TIME = re.compile(r"^Time: ([0-9.]+) ms", re.MULTILINE)
_TYPE_LINE = re.compile(r"^# TYPE (\S+) (\S+)")
_SAMPLE_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+\S+")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
_SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created", "_info")


class StackError(RuntimeError):
    """A part of the stack did not start or misbehaved; the message names it and its log."""


def postgres_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/N/bin`` (Debian), else where ``postgres`` is on PATH."""
    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/postgres")]
    if found:
        return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    on_path = shutil.which("postgres")
    return Path(on_path).parent if on_path else None


def missing_programs() -> list[str]:
    """Programs the stack needs that are not installed (``scripts/system-deps test``)."""
    wanted = ["prometheus", *EXPORTERS.values(), "redis-server", "redis-cli"]
    missing = [name for name in wanted if shutil.which(name) is None]
    bindir = postgres_bindir()
    missing += [
        f"postgresql ({name})"
        for name in ("initdb", "postgres", "psql", "pg_isready")
        if bindir is None or not (bindir / name).exists()
    ]
    return missing


def require_programs() -> None:
    """Fail (in CI) or skip (on a developer's machine) when the stack's programs are missing."""
    import pytest

    missing = missing_programs()
    if missing:
        message = f"not installed: {', '.join(missing)}; run `scripts/system-deps test`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@contextlib.contextmanager
def running(ready: Iterable[str], *, scrape_seconds: int = 1) -> Iterator[Stack]:
    """The whole stack, started with load running and ``ready`` answered; stopped at the end,
    also when the body fails, and checked to leave nothing behind when it does not."""
    require_programs()
    stack = Stack(scrape_seconds=scrape_seconds)
    try:
        stack.start()
        stack.start_load()
        stack.wait_for(ready)
        yield stack
    finally:
        stack.stop()
    assert stack.leftovers() == [], "the stack left things behind"


@dataclass
class Child:
    """One process the stack started, with its log file and how to stop it gently."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    stop_signal: int = signal.SIGTERM

    def tail(self, lines: int = 5) -> str:
        try:
            text = self.log.read_text(errors="replace").strip()
        except OSError:
            return "(no log)"
        return " | ".join(text.splitlines()[-lines:]) or "(empty log)"


class AppExporter:
    """The voice bot's own DB timer: a real ``prometheus_client`` Histogram served by a thread."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.registry = CollectorRegistry()
        self.histogram = Histogram(
            DB_METRIC.name,
            DB_METRIC.help,
            ["operation"],
            buckets=DB_METRIC.buckets,
            registry=self.registry,
        )
        self.server: Any = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.server, self.thread = start_http_server(self.port, addr=HOST, registry=self.registry)

    def observe(self, operation: str, seconds: float) -> None:
        self.histogram.labels(operation=operation).observe(seconds)

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        if self.thread is not None:
            self.thread.join(timeout=5)


class Stack:
    """PostgreSQL, Redis, node/postgres/redis exporters, the bot's timer and a Prometheus.

    Prometheus scrapes jobs ``node``, ``postgres``, ``redis`` and ``voicebot`` every
    ``scrape_seconds``. :meth:`stop` is safe to call at any point, also after a failed
    :meth:`start`.
    """

    def __init__(self, scrape_seconds: int = 1, timeout: float = 30.0) -> None:
        self.scrape_seconds = scrape_seconds
        self.timeout = timeout
        self.root: Path | None = None
        self.children: list[Child] = []
        self.pgids: set[int] = set()
        self.ports: dict[str, int] = {}
        self.app: AppExporter | None = None
        self.bindir = postgres_bindir() or Path("/nonexistent")
        self.timings: dict[str, float] = {}
        self.load_rounds = 0
        self.load_error: BaseException | None = None
        self._load_stop = threading.Event()
        self._load_thread: threading.Thread | None = None

    # -- addresses ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The Prometheus base URL."""
        return f"http://{HOST}:{self.ports['prometheus']}"

    def metrics_url(self, job: str) -> str:
        return f"http://{HOST}:{self.ports[job]}/metrics"

    # -- starting ----------------------------------------------------------------------------

    def start(self) -> Stack:
        """Start every part and wait until each answers; Prometheus scraping all four jobs."""
        began = time.monotonic()
        self.root = Path(tempfile.mkdtemp(prefix="obskit-stack-"))
        self.root.chmod(0o755)  # the postgres user must reach its own subfolder
        self._step("postgres", self._start_postgres)
        self._step("redis", self._start_redis)
        self._step("database", self._create_database)
        self._step("exporters", self._start_exporters)
        self._step("prometheus", self._start_prometheus)
        self.timings["start"] = time.monotonic() - began
        return self

    def _step(self, name: str, action: Callable[[], None]) -> None:
        began = time.monotonic()
        action()
        self.timings[name] = time.monotonic() - began

    def _env(self, **extra: str) -> dict[str, str]:
        """A clean environment: no PG*/REDIS_*/DATA_SOURCE_* of the developer leaks in."""
        assert self.root is not None
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
        return {**base, "HOME": str(self.root), **extra}

    def _as_postgres(self) -> dict[str, Any]:
        """``subprocess`` arguments that run a PostgreSQL program as ``postgres`` when root."""
        if os.geteuid() != 0:
            return {}
        return {"user": "postgres", "group": "postgres", "extra_groups": []}

    def _spawn(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        stop_signal: int = signal.SIGTERM,
        **kwargs: Any,
    ) -> Child:
        assert self.root is not None
        log = self.root / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env or self._env(),
                process_group=0,
                preexec_fn=die_with_parent(stop_signal),  # SIGKILLed pytest: children go too
                **kwargs,
            )
        child = Child(name, process, log, stop_signal)
        self.children.append(child)
        self.pgids.add(process.pid)
        return child

    def _wait(self, what: str, child: Child, ready: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if child.process.poll() is not None:
                raise StackError(
                    f"{child.name} exited with code {child.process.returncode} before {what}: "
                    f"{child.tail()}"
                )
            with contextlib.suppress(requests.RequestException, subprocess.SubprocessError):
                if ready():
                    return
            time.sleep(0.1)
        raise StackError(f"{child.name}: no {what} within {self.timeout:.0f} s: {child.tail()}")

    def _start_postgres(self) -> None:
        assert self.root is not None
        pg = self.root / "pg"
        pg.mkdir()
        if os.geteuid() == 0:
            shutil.chown(pg, "postgres", "postgres")
        initdb = subprocess.run(
            [str(self.bindir / "initdb"), "-D", str(pg / "data"), "-U", "postgres",
             "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"],
            env=self._env(), cwd=pg, capture_output=True, text=True, timeout=self.timeout,
            **self._as_postgres(),
        )  # fmt: skip
        if initdb.returncode != 0:
            raise StackError(f"initdb failed ({initdb.returncode}): {initdb.stderr.strip()}")
        port = self.ports["pg"] = free_port()
        child = self._spawn(
            "postgresql",
            [str(self.bindir / "postgres"), "-D", str(pg / "data"), "-k", str(pg), "-p", str(port),
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "full_page_writes=off"],
            stop_signal=signal.SIGINT,  # "fast" shutdown: backends end, then the postmaster
            cwd=pg, **self._as_postgres(),
        )  # fmt: skip
        isready = [str(self.bindir / "pg_isready"), "-q", "-h", HOST, "-p", str(port),
                   "-U", "postgres", "-d", "postgres"]  # fmt: skip
        self._wait(
            "connections", child, lambda: subprocess.run(isready, env=self._env()).returncode == 0
        )

    def psql(self, *commands: str, database: str = DATABASE) -> str:
        """Run statements with ``psql`` (one ``-c`` each) against the stack's PostgreSQL."""
        argv = [str(self.bindir / "psql"), "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1",
                "-h", HOST, "-p", str(self.ports["pg"]), "-U", "postgres", "-d", database]  # fmt: skip
        for command in commands:
            argv += ["-c", command]
        done = subprocess.run(argv, env=self._env(), capture_output=True, text=True, timeout=20)
        if done.returncode != 0:
            raise StackError(f"psql {commands!r} failed: {done.stderr.strip()}")
        return done.stdout

    def _create_database(self) -> None:
        self.psql(f"CREATE DATABASE {DATABASE}", database="postgres")
        self.psql(
            "CREATE TABLE orders (id serial PRIMARY KEY, status text NOT NULL,"
            " created timestamptz NOT NULL DEFAULT now())"
        )

    def _start_redis(self) -> None:
        assert self.root is not None
        port = self.ports["redis-server"] = free_port()
        (self.root / "redis").mkdir()
        child = self._spawn(
            "redis-server",
            ["redis-server", "--port", str(port), "--bind", HOST, "--save", "",
             "--appendonly", "no", "--dir", str(self.root / "redis"), "--maxmemory", "64mb",
             "--daemonize", "no", "--logfile", ""],
        )  # fmt: skip
        self._wait("PONG", child, lambda: self.redis("PING\n").strip() == "PONG")

    def redis(self, commands: str) -> str:
        """Send newline-separated commands through ``redis-cli``; its output."""
        argv = ["redis-cli", "-h", HOST, "-p", str(self.ports["redis-server"])]
        done = subprocess.run(
            argv, input=commands, env=self._env(), capture_output=True, text=True, timeout=20
        )
        if done.returncode != 0:
            raise StackError(f"redis-cli failed: {done.stderr.strip()}")
        return done.stdout

    def _start_exporters(self) -> None:
        for job in EXPORTERS:
            self.ports[job] = free_port()
        dsn = f"postgresql://postgres@{HOST}:{self.ports['pg']}/{DATABASE}?sslmode=disable"
        extra = {
            # only the collectors System Overview reads: lighter and faster scrapes
            "node": ["--collector.disable-defaults", "--collector.cpu", "--collector.meminfo",
                     "--collector.filesystem", "--collector.netdev"],
            "postgres": [],
            "redis": [f"--redis.addr=redis://{HOST}:{self.ports['redis-server']}"],
        }  # fmt: skip
        started = [
            self._spawn(
                job,
                [program, f"--web.listen-address={HOST}:{self.ports[job]}", *extra[job]],
                env=self._env(DATA_SOURCE_NAME=dsn) if job == "postgres" else None,
            )
            for job, program in EXPORTERS.items()
        ]
        self.ports["voicebot"] = free_port()
        self.app = AppExporter(self.ports["voicebot"])
        self.app.start()
        for child in started:
            self._wait("/metrics", child, partial(_answers, self.metrics_url(child.name)))

    def _config(self) -> str:
        every = f"{self.scrape_seconds}s"
        lines = ["global:", f"  scrape_interval: {every}", f"  scrape_timeout: {every}",
                 f"  evaluation_interval: {every}", "scrape_configs:"]  # fmt: skip
        for job in JOBS:
            lines += [f"  - job_name: {job}", "    static_configs:",
                      f"      - targets: ['{HOST}:{self.ports[job]}']"]  # fmt: skip
        return "\n".join(lines) + "\n"

    def _start_prometheus(self) -> None:
        assert self.root is not None
        prom = self.root / "prometheus"
        prom.mkdir()
        (prom / "prometheus.yml").write_text(self._config())
        port = self.ports["prometheus"] = free_port()
        child = self._spawn(
            "prometheus",
            ["prometheus", f"--config.file={prom / 'prometheus.yml'}",
             f"--storage.tsdb.path={prom / 'data'}", f"--web.listen-address={HOST}:{port}",
             "--storage.tsdb.retention.time=1d"],
        )  # fmt: skip
        self._wait("ready", child, partial(_answers, f"{self.url}/-/ready"))

    # -- load and data -----------------------------------------------------------------------

    def load_once(self) -> None:
        """One round of the bot's work: timed SQL (into the histogram) and Redis commands."""
        assert self.app is not None
        output = self.psql("\\timing on", *STATEMENTS.values())
        times = [float(ms) / 1000 for ms in _TIME.findall(output)]
        if len(times) != len(STATEMENTS):
            raise StackError(f"expected {len(STATEMENTS)} psql timings, got: {output!r}")
        for operation, seconds in zip(STATEMENTS, times, strict=True):
            self.app.observe(operation, seconds)
        self.redis(REDIS_COMMANDS)
        self.load_rounds += 1

    def start_load(self, period: float = 0.5) -> None:
        """Run :meth:`load_once` every ``period`` seconds in a thread until :meth:`stop`."""

        def loop() -> None:
            while not self._load_stop.wait(period):
                try:
                    self.load_once()
                except BaseException as exc:  # kept for the tests to report
                    self.load_error = exc
                    return

        self._load_thread = threading.Thread(target=loop, name="obskit-stack-load", daemon=True)
        self._load_thread.start()

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result vector (raw Prometheus JSON)."""
        body = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10).json()
        if body.get("status") != "success":
            raise StackError(f"query {expr!r} failed: {body}")
        return list(body["data"]["result"])

    def wait_for(self, exprs: Iterable[str]) -> None:
        """Wait until every query returns a non-empty vector (load keeps running meanwhile)."""
        began = time.monotonic()
        pending = list(exprs)
        while pending:
            if self.load_error is not None:
                raise StackError(f"the load generator failed: {self.load_error}")
            pending = [e for e in pending if not self.query(e)]
            if pending and time.monotonic() - began > self.timeout:
                prom = next(c for c in self.children if c.name == "prometheus")
                raise StackError(
                    f"no data within {self.timeout:.0f} s for {pending}; targets: "
                    f"{self.query('up')}; prometheus log: {prom.tail()}"
                )
            time.sleep(0.25)
        self.timings["data"] = time.monotonic() - began

    def exposition(self, job: str) -> dict[str, Sample]:
        """What an exporter serves now, by sample name exactly as written (see :func:`parse`)."""
        return parse(requests.get(self.metrics_url(job), timeout=10).text)

    # -- stopping ----------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop load, Prometheus, exporters, Redis and PostgreSQL; remove the directory."""
        began = time.monotonic()
        self._load_stop.set()
        if self._load_thread is not None:
            self._load_thread.join(timeout=30)
        for child in reversed(self.children):
            if child.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.process.send_signal(child.stop_signal)
        for child in reversed(self.children):
            try:
                child.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait(timeout=10)
        for pgid in self.pgids:  # e.g. PostgreSQL backends of a postmaster that was killed
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
        if self.app is not None:
            self.app.stop()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
        self.timings["stop"] = time.monotonic() - began

    def leftovers(self) -> list[str]:
        """Anything this stack started that still runs: processes in its groups, threads."""
        left = []
        for proc in psutil.process_iter(["pid", "name", "status"]):
            with contextlib.suppress(psutil.Error, ProcessLookupError):
                if os.getpgid(proc.pid) in self.pgids and proc.status() != psutil.STATUS_ZOMBIE:
                    left.append(f"{proc.info['name']} (PID {proc.pid})")
        threads = [self._load_thread, self.app.thread if self.app else None]
        left += [f"thread {t.name}" for t in threads if t is not None and t.is_alive()]
        if self.root is not None and self.root.exists():
            left.append(f"directory {self.root}")
        return left


def _answers(url: str) -> bool:
    return requests.get(url, timeout=2).status_code == 200


@dataclass
class Sample:
    """One sample name in an exporter's output: its family's name and type, every label set."""

    family: str
    type: str
    labelsets: list[dict[str, str]]

    @property
    def labels(self) -> set[str]:
        return {name for labels in self.labelsets for name in labels}

    def values(self, label: str) -> set[str]:
        return {labels[label] for labels in self.labelsets if label in labels}


def parse(text: str) -> dict[str, Sample]:
    """Text exposition format -> each sample name's declared type and label sets.

    Names are kept as the exporter wrote them (``prometheus_client``'s parser would add
    ``_total`` to counters, hiding exactly the mismatches these tests look for). A sample
    takes its own ``# TYPE``, else its family's (name without ``_bucket``/``_total``/...),
    else ``untyped``.

    >>> parse('# TYPE a_total counter\\na_total{x="1"} 3\\n')["a_total"].type
    'counter'
    """
    types: dict[str, str] = {}
    out: dict[str, Sample] = {}
    for line in text.splitlines():
        declared = _TYPE_LINE.match(line)
        if declared:
            types[declared.group(1)] = declared.group(2)
            continue
        sample = _SAMPLE_LINE.match(line)
        if sample is None or line.startswith("#"):
            continue
        name, labels = sample.group(1), dict(_LABEL.findall(sample.group(2) or ""))
        family = next((name.removesuffix(s) for s in _SUFFIXES if name.endswith(s)), name)
        kind = types.get(name) or types.get(family) or "untyped"
        out.setdefault(name, Sample(family, kind, [])).labelsets.append(labels)
    return out
