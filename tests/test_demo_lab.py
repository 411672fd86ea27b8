"""Demo safety: the live simulator and `obskit demo lab` listen on 127.0.0.1 only, and Ctrl-C ends all.

(The demo Prometheus itself is checked in tests/test_demo_prometheus.py and test_demo_cli.py.)

Independent of the machine's state: every `obskit demo lab` here starts with SIGINT at its
default disposition (a shell's background job inherits it ignored, and then Ctrl-C would test
nothing), and with its own TMPDIR, so the token file checked is this run's and no other's.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psutil
import pytest
import requests

from obskit.demo import DemoPrometheus
from obskit.demo.live import live_spec

LAB_URL = re.compile(r"(http://[^\s/]+):(\d+)/lab\?token=([0-9a-f]+)")


def _listeners(port: int) -> list[str]:
    """Local addresses listening on ``port``, IPv4 and IPv6, from /proc/net/tcp{,6}."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
                found.append(local.rsplit(":", 1)[0])
    return found


def default_sigint() -> None:
    """``preexec_fn``: SIGINT at its default, whatever this test process inherited."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _sockets_of(pid: int) -> list[str]:
    """Every listening address of one process, from ``ss -ltnp``."""
    out = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True, check=True).stdout
    return [line.split()[3] for line in out.splitlines() if f"pid={pid}," in line]


@pytest.fixture(scope="module")
def _linux() -> None:
    if not Path("/proc/net/tcp").exists():
        pytest.skip("needs Linux /proc/net/tcp")


def test_the_live_simulator_and_its_prometheus_listen_on_loopback_only(_linux, tmp_path):
    spec = live_spec(datetime.now(UTC), days=0.25, step=60, seed=42)
    with DemoPrometheus(spec, cache=tmp_path, live=True) as prom:
        assert prom.live_port and prom.port
        for port in (prom.live_port, prom.port):
            assert _listeners(port) == ["0100007F"], f"port {port} listens beyond 127.0.0.1"
        body = requests.get(f"http://127.0.0.1:{prom.live_port}/metrics", timeout=5).text
        assert "voicebot_active_calls" in body


# -- `obskit demo lab` for real --------------------------------------------------------------------


class Lab:
    """`obskit demo lab` started as a user would, its output collected line by line."""

    def __init__(self, tmp_path: Path, user_config: str | None = None) -> None:
        (tmp_path / "notebooks").mkdir()
        if user_config is not None:  # what this machine's user has in ~/.jupyter
            (tmp_path / "jupyter-config").mkdir()
            (tmp_path / "jupyter-config" / "jupyter_server_config.py").write_text(user_config)
        self.tmpdir = tmp_path / "tmp"  # where the lab's private token folder goes
        self.tmpdir.mkdir()
        env = {
            **os.environ,
            "TMPDIR": str(self.tmpdir),
            "OBSKIT_CACHE_DIR": str(tmp_path / "cache"),
            # Only JupyterLab's defaults: no config or runtime files of this machine's user.
            "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
            "JUPYTER_RUNTIME_DIR": str(tmp_path / "jupyter-runtime"),
        }
        argv = [sys.executable, "-m", "obskit.cli", "demo", "lab", "--end", "2026-02-14T18:00:00Z",
                "--days", "0.25", "--step", "60", "--notebooks", str(tmp_path / "notebooks")]  # fmt: skip
        self.process = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True, start_new_session=True,
            preexec_fn=default_sigint,
        )  # fmt: skip
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def wait_for_url(self, timeout: float = 90) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if found := LAB_URL.search(line):
                    return found
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError("no JupyterLab URL with a token:\n" + "".join(self.lines))

    def token_folders(self) -> list[Path]:
        """This lab's private folders (its TMPDIR holds nothing else)."""
        return sorted(self.tmpdir.glob("obskit-lab-*"))

    def children(self) -> dict[str, psutil.Process]:
        kids = psutil.Process(self.process.pid).children(recursive=True)
        by_kind = {}
        for kid in kids:
            line = " ".join(kid.cmdline())
            if "jupyter" in line and "lab" in line:
                by_kind["jupyter"] = kid
            elif "prometheus" in kid.name():
                by_kind["prometheus"] = kid
        return by_kind

    def close(self) -> None:
        """Kill whatever is left (a failed test) and release the output pipe."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.reader.join(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def lab(_linux, tmp_path: Path) -> Iterator[Lab]:
    running = Lab(tmp_path)
    yield running
    running.close()


def _gone(process: psutil.Process, timeout: float) -> bool:
    try:
        process.wait(timeout)
    except psutil.TimeoutExpired:
        return False
    except psutil.NoSuchProcess:
        pass
    return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE


def _sigint_is_default(pid: int) -> bool:
    """Whether ``pid`` does not ignore SIGINT (the SigIgn mask of /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return not int(line.split()[1], 16) & (1 << (signal.SIGINT - 1))
    raise AssertionError(f"no SigIgn line in /proc/{pid}/status")


@pytest.mark.parametrize("ctrl_c", ["terminal", "obskit-only"])
def test_demo_lab_binds_loopback_keeps_its_token_and_stops_on_ctrl_c(lab, ctrl_c, tmp_path):
    found = lab.wait_for_url()
    host, port, token = found.group(1), int(found.group(2)), found.group(3)
    assert host == "http://127.0.0.1" and len(token) >= 32
    kids = lab.children()
    assert set(kids) == {"jupyter", "prometheus"}, kids

    # Both listen on 127.0.0.1 only (IPv4 and IPv6 tables).
    assert _sockets_of(kids["jupyter"].pid) and all(
        addr.startswith("127.0.0.1:") for addr in _sockets_of(kids["jupyter"].pid)
    ), _sockets_of(kids["jupyter"].pid)
    assert all(addr.startswith("127.0.0.1:") for addr in _sockets_of(kids["prometheus"].pid))
    assert _listeners(port) == ["0100007F"]
    assert len(lab.token_folders()) == 1, "the token file lives in this lab's own TMPDIR"
    assert _sigint_is_default(lab.process.pid), "the test would send SIGINT to a deaf process"

    # Token auth is on: the API refuses a request without it and serves one with it.
    api = f"http://127.0.0.1:{port}/api/kernels"
    assert requests.get(api, timeout=10).status_code in (401, 403)
    assert requests.get(api, params={"token": "0" * len(token)}, timeout=10).status_code in (
        401,
        403,
    )
    assert requests.get(api, params={"token": token}, timeout=10).status_code == 200
    headers = {"Authorization": f"token {token}"}
    assert requests.get(api, headers=headers, timeout=10).status_code == 200
    state = tmp_path / "cache" / "demo" / "state.json"
    assert state.exists(), "the demo's state file lets notebooks find it"

    # Ctrl-C: a terminal signals the whole process group; `kill -INT` only obskit.
    if ctrl_c == "terminal":
        os.killpg(lab.process.pid, signal.SIGINT)
    else:
        lab.process.send_signal(signal.SIGINT)
    assert lab.process.wait(40) in (0, 130), "".join(lab.lines[-20:])
    for kind, process in kids.items():
        assert _gone(process, 20), f"{kind} (PID {process.pid}) still runs after Ctrl-C"
    assert not _listeners(port), "JupyterLab's port is closed"
    assert not state.exists(), "the state file is removed"
    assert lab.token_folders() == [], "the token folder is removed"


def test_demo_lab_keeps_a_token_when_the_users_config_disables_it(_linux, tmp_path):
    no_auth = "c.IdentityProvider.token = ''\nc.ServerApp.token = ''\n"
    lab = Lab(tmp_path, user_config=no_auth)
    try:
        found = lab.wait_for_url()
        port, token = int(found.group(2)), found.group(3)
        api = f"http://127.0.0.1:{port}/api/kernels"
        assert requests.get(api, timeout=10).status_code in (401, 403)
        assert requests.get(api, params={"token": token}, timeout=10).status_code == 200
        jupyter = lab.children()["jupyter"]
        assert token not in " ".join(jupyter.cmdline()), "the token is not visible in ps"
        assert len(lab.token_folders()) == 1
        lab.process.send_signal(signal.SIGINT)
        assert lab.process.wait(40) in (0, 130), "".join(lab.lines[-20:])
        assert lab.token_folders() == [], "token file removed"
    finally:
        lab.close()
