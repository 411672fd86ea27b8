"""The backfilled data is cached under its inputs' key; a corrupt or partial cache is rebuilt."""

import shutil

import pytest

from obskit.demo import DemoPrometheus, DemoSpec, ensure_blocks
from obskit.errors import DemoError

TINY = DemoSpec(days=0.25, step=60)


def test_second_call_reuses_the_cache(tmp_path):
    first = ensure_blocks(TINY, root=tmp_path)
    second = ensure_blocks(TINY, root=tmp_path)
    assert not first.cached and second.cached
    assert first.path == second.path and first.samples == second.samples > 0


def test_key_changes_with_every_input():
    keys = {
        TINY.key(),
        DemoSpec(days=0.25, step=60, seed=1).key(),
        DemoSpec(days=0.5, step=60).key(),
        DemoSpec(days=0.25, step=30).key(),
    }
    assert len(keys) == 4


@pytest.mark.parametrize("damage", ["truncate", "delete_file", "delete_manifest", "edit_manifest"])
def test_corrupt_or_partial_cache_is_rebuilt_not_used(tmp_path, damage):
    report = ensure_blocks(TINY, root=tmp_path)
    chunk = next(p for p in report.path.rglob("chunks/*") if p.is_file())
    if damage == "truncate":
        chunk.write_bytes(chunk.read_bytes()[:-10])
    elif damage == "delete_file":
        chunk.unlink()
    elif damage == "delete_manifest":
        (report.path / "manifest.json").unlink()
    else:
        (report.path / "manifest.json").write_text("{not json")
    rebuilt = ensure_blocks(TINY, root=tmp_path)
    assert not rebuilt.cached
    assert ensure_blocks(TINY, root=tmp_path).cached


def test_leftover_staging_dirs_do_not_count_as_cache(tmp_path):
    report = ensure_blocks(TINY, root=tmp_path)
    shutil.rmtree(report.path)
    (report.path.parent / f".{TINY.key()}-leftover").mkdir()
    assert not ensure_blocks(TINY, root=tmp_path).cached


def test_context_manager_serves_queries_and_cleans_up(tmp_path):
    import requests

    with DemoPrometheus(TINY, cache=tmp_path) as prom:
        workdir = prom.workdir
        body = requests.get(
            f"{prom.url}/api/v1/query", params={"query": "count(up) or vector(1)"}
        ).json()
        assert body["status"] == "success"
    assert not workdir.exists()


def test_prometheus_that_cannot_start_reports_its_log(tmp_path, monkeypatch):
    prom = DemoPrometheus(TINY, cache=tmp_path)
    monkeypatch.setattr(prom, "_argv", lambda binary, data: [binary, "--no-such-flag"])
    with pytest.raises(DemoError, match="Prometheus exited with code"):
        prom.start()
    prom.stop()
