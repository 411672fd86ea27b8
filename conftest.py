"""Session fixtures: one real demo Prometheus (127.0.0.1, free port) for tests/ and notebooks/.

At the repository root, so that `pytest --nbval notebooks/` on its own gets the demo too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from obskit import config
from obskit.demo import DemoPrometheus, DemoSpec

ROOT = Path(__file__).resolve().parent
# Captured before any test clears the environment: where cached demo data lives on this machine.
CACHE_ROOT = config.cache_dir()
# OBSKIT_DATA=DIR: the session's Prometheus replays that frozen fixture (`obskit freeze`)
# instead of the synthetic demo, so notebooks written for your own data run in CI.
REPLAY = config.replay_data()
_DEMO: DemoPrometheus | None = None


def _variables() -> list[str]:
    return [k for k in os.environ if k.startswith(("OBSKIT_", "PROMETHEUS_"))]


def pytest_configure(config: pytest.Config) -> None:
    # Tests and notebooks see only the demo, never a developer's own Prometheus settings.
    for name in _variables():
        del os.environ[name]


def demo_prometheus() -> DemoPrometheus:
    """Start the session's demo Prometheus (or replay of ``$OBSKIT_DATA``) once; export it."""
    global _DEMO
    if _DEMO is None:
        _DEMO = DemoPrometheus(DemoSpec(), cache=CACHE_ROOT, data=REPLAY).start()
        os.environ["PROMETHEUS_URL"] = _DEMO.url
        os.environ["OBSKIT_NOW"] = _DEMO.state()["end"]
    return _DEMO


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _DEMO is not None:
        _DEMO.stop()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # nbval items start their kernel while setting up: the demo must be up and exported first.
    if type(item).__module__.startswith("nbval"):
        demo_prometheus()


@pytest.fixture(scope="session")
def demo() -> DemoPrometheus:
    """The real demo Prometheus: 7 days at 30 s ending 2026-02-14T18:00:00Z, seed 42."""
    return demo_prometheus()


@pytest.fixture(scope="session")
def demo_client(demo: DemoPrometheus):
    import obskit

    client = obskit.connect(demo.url)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Each test starts with no OBSKIT_*/PROMETHEUS_* variables and an empty cache dir."""
    for name in _variables():
        monkeypatch.delenv(name)
    monkeypatch.setenv("OBSKIT_CACHE_DIR", str(tmp_path / "obskit-cache"))
    yield


@pytest.fixture(scope="session")
def victoria():
    """The same demo data in a real VictoriaMetrics (another engine behind the same API)."""
    from obskit.demo.victoria import DemoVictoriaMetrics

    with DemoVictoriaMetrics(DemoSpec()) as vm:
        yield vm


@pytest.fixture(scope="session", params=["prometheus", "victoriametrics"])
def backend(request: pytest.FixtureRequest):
    """Each Prometheus-compatible engine loaded with the demo data, in turn."""
    return request.getfixturevalue("demo" if request.param == "prometheus" else "victoria")
