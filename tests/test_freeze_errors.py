"""Bad input to freeze and replay: each a clear ObskitError, and nothing half-written.

Sources are real Prometheus servers: a replay of the small hand-made fixture of
test_freeze (started once for this module), or a port where nothing listens.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from test_freeze import write_edge_fixture

from obskit import ObskitError, cli
from obskit.demo import DemoPrometheus, free_port
from obskit.demo import freeze as freeze_module
from obskit.demo.freeze import freeze
from obskit.errors import ConfigError, DemoError, TooLargeError, UnreachableError

pytestmark = pytest.mark.prometheus

SELECTOR = '{job="edge"}'


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("edge")
    with DemoPrometheus(data=write_edge_fixture(root / "fixture"), cache=root / "cache") as prom:
        yield prom


def _nothing_written(parent: Path) -> None:
    assert [p.name for p in parent.iterdir()] == [] if parent.exists() else True


def _refused(tmp_path: Path, error: type[ObskitError], *args, **kwargs) -> str:
    out = tmp_path / "out" / "fixture"
    with pytest.raises(error) as caught:
        freeze(*args, out, **kwargs)
    assert not out.exists()
    _nothing_written(out.parent)
    return str(caught.value)


def test_unreachable_source(tmp_path: Path, edge) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    message = _refused(tmp_path, UnreachableError, url, [SELECTOR], edge.start_time, edge.end)
    assert "127.0.0.1" in message


def test_selector_matching_nothing(tmp_path: Path, edge) -> None:
    message = _refused(tmp_path, ObskitError, edge.url, ['{job="nope"}'], edge.start_time, edge.end)  # fmt: skip
    assert "match no series" in message and 'job="nope"' in message


def test_range_outside_the_data(tmp_path: Path, edge) -> None:
    message = _refused(tmp_path, ObskitError, edge.url, [SELECTOR],
                       "2020-01-01T00:00:00Z", "2020-01-02T00:00:00Z")  # fmt: skip
    assert "outside the source's data" in message and "series" in message


def test_series_budget(tmp_path: Path, edge) -> None:
    message = _refused(tmp_path, TooLargeError, edge.url, [SELECTOR], edge.start_time, edge.end,
                       max_series=3)  # fmt: skip
    assert "max_series=3" in message and "8 series" in message


def test_sample_budget(tmp_path: Path, edge) -> None:
    message = _refused(tmp_path, TooLargeError, edge.url, [SELECTOR], edge.start_time, edge.end,
                       max_samples=1000)  # fmt: skip
    assert "max_samples=1,000" in message


def test_bad_selector_argument(tmp_path: Path, edge) -> None:
    _refused(tmp_path, ConfigError, edge.url, [], edge.start_time, edge.end)


def test_existing_output_without_force_is_left_alone(tmp_path: Path, edge) -> None:
    out = tmp_path / "fixture"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(ConfigError, match=r"already exists.*--force"):
        freeze(edge.url, [SELECTOR], edge.start_time, edge.end, out)
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    freeze(edge.url, [SELECTOR], edge.start_time, edge.end, out, force=True)
    assert "mine.txt" not in {p.name for p in out.iterdir()}
    assert (out / "manifest.json").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["fixture"]  # no staging left over


def test_an_interrupted_freeze_leaves_nothing_that_looks_complete(
    tmp_path: Path, edge, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = freeze_module._fixture.write_files

    def interrupted(folder, *args):
        real(folder, *args)
        raise KeyboardInterrupt  # after every file is written, before the rename

    monkeypatch.setattr(freeze_module._fixture, "write_files", interrupted)
    with pytest.raises(KeyboardInterrupt):
        freeze(edge.url, [SELECTOR], edge.start_time, edge.end, tmp_path / "fixture")
    assert list(tmp_path.iterdir()) == []


def test_cli_reports_an_error_in_one_line(tmp_path: Path, edge, capsys) -> None:
    argv = ["freeze", "--prometheus", edge.url, "--match", '{job="nope"}', "--start",
            edge.start_time.isoformat(), "--end", edge.end.isoformat(), "--out", str(tmp_path / "x")]  # fmt: skip
    assert cli.main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("obskit: error:") and "match no series" in err
    assert not (tmp_path / "x").exists()


def test_cli_freezes(tmp_path: Path, edge, capsys) -> None:
    argv = ["freeze", "--prometheus", edge.url, "--match", SELECTOR, "--start",
            edge.start_time.isoformat(), "--end", edge.end.isoformat(), "--out", str(tmp_path / "x")]  # fmt: skip
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "froze 8 series" in out and "obskit demo start --data" in out
    assert "staleness markers: 0 (read with remote read; replayed)" in out


# -- fixtures that do not match their manifest -----------------------------------------------


@pytest.mark.parametrize("name", ["values.z", "times.z", "series.json", "metadata.json"])
@pytest.mark.parametrize("damage", ["corrupt", "truncate", "delete"])
def test_damaged_fixture_is_refused_naming_the_file(tmp_path: Path, name: str, damage: str) -> None:
    fixture = write_edge_fixture(tmp_path / "fixture")
    target = fixture / name
    blob = target.read_bytes()
    if damage == "corrupt":
        target.write_bytes(blob[:10] + bytes([blob[10] ^ 0xFF]) + blob[11:])
    elif damage == "truncate":
        target.write_bytes(blob[: len(blob) // 2])
    else:
        target.unlink()
    cache = tmp_path / "cache"
    prom = DemoPrometheus(data=fixture, cache=cache)
    with pytest.raises(DemoError, match=name):
        prom.start()
    prom.stop()
    assert not (cache / "demo" / "replay").exists() or not any(
        (cache / "demo" / "replay").iterdir()
    )


def test_a_directory_without_manifest_is_not_a_fixture(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DemoError, match=r"no manifest.json.*obskit freeze"):
        DemoPrometheus(data=tmp_path / "empty", cache=tmp_path / "cache").start()


def test_promtool_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fixture = write_edge_fixture(tmp_path / "fixture")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "prometheus").symlink_to(shutil.which("prometheus"))
    monkeypatch.setenv("PATH", str(bin_dir))
    cache = tmp_path / "cache"
    with pytest.raises(DemoError, match=r"`promtool` was not found on PATH.*apt-get install"):
        DemoPrometheus(data=fixture, cache=cache).start()
    assert not (cache / "demo" / "replay").exists() or not any(
        (cache / "demo" / "replay").iterdir()
    )


def test_data_and_live_together_are_refused(tmp_path: Path) -> None:
    fixture = write_edge_fixture(tmp_path / "fixture")
    with pytest.raises(ConfigError, match="live"):
        DemoPrometheus(data=fixture, live=True, cache=tmp_path / "cache").start()


# -- restart on the same port ----------------------------------------------------------------


def _obskit(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "obskit.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_demo_stop_then_start_on_the_same_port_works_at_once(tmp_path: Path) -> None:
    fixture = write_edge_fixture(tmp_path / "fixture")
    env = {**os.environ, "OBSKIT_CACHE_DIR": str(tmp_path / "cache")}
    port = str(free_port())
    first = _obskit("demo", "start", "--data", str(fixture), "--port", port, env=env)
    assert first.returncode == 0, first.stderr
    url = f"http://127.0.0.1:{port}"
    assert f"PROMETHEUS_URL={url}" in first.stdout
    with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as conn:
        # "Connection: close": the server closes first, so its side (port P) enters TIME_WAIT
        conn.sendall(b"GET /-/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while conn.recv(65536):
            pass
    stopped = _obskit("demo", "stop", env=env)
    assert stopped.returncode == 0, stopped.stderr
    with socket.socket() as plain, pytest.raises(OSError):  # the old check's bind: TIME_WAIT
        plain.bind(("127.0.0.1", int(port)))
    again = _obskit("demo", "start", "--data", str(fixture), "--port", port, env=env)
    try:
        assert again.returncode == 0, again.stderr
        assert requests.get(f"{url}/-/ready", timeout=10).ok
    finally:
        _obskit("demo", "stop", env=env)


def test_a_port_in_use_is_still_refused(tmp_path: Path) -> None:
    fixture = write_edge_fixture(tmp_path / "fixture")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(DemoError, match=f"port {port} .* already in use"):
            DemoPrometheus(data=fixture, port=port, cache=tmp_path / "cache").start()
