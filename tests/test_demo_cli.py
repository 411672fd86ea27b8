"""`obskit demo start/status/stop` as a user runs them, against a real Prometheus."""

import os
import socket
import subprocess
import sys
import time

import pytest

SMALL = ["--end", "2026-02-14T18:00:00Z", "--days", "0.5", "--step", "60"]


def obskit(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "obskit.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0] != "Z"


def test_start_status_stop_leave_nothing_behind():
    started = obskit("demo", "start", *SMALL)
    assert started.returncode == 0, started.stderr
    last = started.stdout.strip().splitlines()[-1]
    assert last.startswith("PROMETHEUS_URL=http://127.0.0.1:")
    url = last.split("=", 1)[1]
    try:
        status = obskit("demo", "status")
        assert status.returncode == 0 and url in status.stdout
        pid = int(status.stdout.split("PID ")[1].split()[0])
        listen = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout
        ours = [line for line in listen.splitlines() if f"pid={pid}," in line]
        assert ours and all(" 127.0.0.1:" in line for line in ours), ours
        again = obskit("demo", "start", *SMALL)
        assert again.returncode == 1 and "already running" in again.stdout
    finally:
        stopped = obskit("demo", "stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)
    assert obskit("demo", "status").returncode == 1


def test_stop_with_nothing_running_says_so_and_succeeds():
    result = obskit("demo", "stop")
    assert result.returncode == 0
    assert "no demo Prometheus is running" in result.stdout


def test_taken_port_is_a_clear_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = obskit("demo", "start", *SMALL, "--port", str(port))
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr


def test_missing_binary_names_how_to_install_it(tmp_path):
    result = obskit("demo", "start", *SMALL, env={"PATH": str(tmp_path)})
    assert result.returncode == 1
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1
    assert (
        "apt-get install prometheus" in message and "conda-forge" in message and "brew" in message
    )


@pytest.mark.parametrize("argv", [["demo", "start", "--bogus"], ["demo", "frobnicate"], []])
def test_unknown_options_are_one_line_pointing_at_help(argv):
    result = obskit(*argv)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("obskit") and "--help`" in result.stderr, result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"], ["demo", "--help"], ["demo", "start", "--help"], ["demo", "stop", "--help"],
        ["demo", "status", "--help"], ["demo", "lab", "--help"], ["demo", "incidents", "--help"],
        ["catalog", "--help"],
    ],
)  # fmt: skip
def test_every_subcommand_has_help(argv):
    result = obskit(*argv)
    assert result.returncode == 0 and result.stdout.startswith("usage: obskit")


def test_bad_end_time_shows_a_valid_example():
    result = obskit("demo", "start", "--end", "yesterday-ish")
    assert result.returncode == 2  # a usage error, found before anything starts
    assert "like 2026-02-14T18:00:00Z" in result.stderr


def test_catalog_command_searches():
    result = obskit("catalog", "breaker")
    assert result.returncode == 0 and "voicebot_circuit_breaker_state" in result.stdout


KILLED_PARENT = """
import sys, time
from obskit.demo import DemoPrometheus, DemoSpec
from obskit.config import parse_instant
spec = DemoSpec(end=parse_instant("2026-02-14T18:00:00Z", "end"), days=0.25, step=60)
prom = DemoPrometheus(spec, live=True).start()
print(prom.process.pid, prom.simulator.pid, flush=True)
time.sleep(600)
"""


def _wait_gone(pid, timeout=10):
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _alive(pid)


def test_a_demo_started_in_code_dies_with_a_parent_killed_by_sigkill():
    # SIGKILL runs no cleanup (no atexit, no context manager exit): Linux's parent-death
    # signal is what stops Prometheus and the live simulator then.
    parent = subprocess.Popen([sys.executable, "-c", KILLED_PARENT], stdout=subprocess.PIPE,
                              text=True, env=os.environ)  # fmt: skip
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(p) for p in pids)
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()
    assert all(_wait_gone(p) for p in pids), "Prometheus or the simulator outlived its parent"


@pytest.mark.parametrize("user", [None, "nobody"])
def test_die_with_parent_survives_a_user_switch(user):
    from obskit.demo.server import die_with_parent

    code = (
        "import subprocess, sys, time\n"
        "from obskit.demo.server import die_with_parent\n"
        f"kw = {{'user': {user!r}}} if {user!r} else {{}}\n"
        "p = subprocess.Popen(['sleep', '300'], preexec_fn=die_with_parent(), **kw)\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(300)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(parent.stdout.readline())
        assert _alive(pid)
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()
    assert _wait_gone(pid), f"sleep (PID {pid}, user {user}) outlived its parent"
    assert die_with_parent() is not None  # this test runs in the main thread on Linux
