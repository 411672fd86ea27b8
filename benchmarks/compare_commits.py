"""Benchmark: the range-query measurements of ``query_range.py`` at two commits, same run.

Run: ``.venv/bin/python benchmarks/compare_commits.py OLD_REV [NEW_REV] [--repeat 7]``
(NEW_REV defaults to the work tree as it is). Each revision is checked out into a
temporary git worktree; every measurement is a fresh process importing obskit from one
of them, against the same servers, interleaved (old, new, old, new, ...) so load from
other processes hits both alike. Prints medians with the spread (min-max) of:

- ``obskit``: ``client.query_range`` of the 1,000-series x 1,441-point query;
- ``concurrent``: the 7-day split query on the demo Prometheus, default concurrency.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
KINDS = ("obskit", "concurrent")


def _worktree(rev: str, parent: Path) -> Path:
    path = parent / rev.replace("/", "_")
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(path), rev],
                   check=True)  # fmt: skip
    return path


def _measure(tree: Path, kind: str, url: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("PROMETHEUS_URL", None)
    out = subprocess.run(
        [sys.executable, str(HERE / "query_range.py"), "--measure", kind, "--url", url],
        check=True, capture_output=True, text=True, env=env, cwd=tree,
    )  # fmt: skip
    found = json.loads(out.stdout.strip().splitlines()[-1])
    found["tree"] = str(tree)
    return found


def _summary(runs: list[dict[str, Any]]) -> str:
    times = [r["s"] for r in runs]
    return f"{statistics.median(times):.3f} s (min {min(times):.3f}, max {max(times):.3f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old")
    parser.add_argument("new", nargs="?", default=None, help="default: the work tree")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    import query_range as qr  # the servers and data set of the range benchmark

    from obskit.demo import DemoPrometheus, DemoSpec

    with tempfile.TemporaryDirectory(prefix="obskit-compare-") as tmp:
        trees = {args.old: _worktree(args.old, Path(tmp))}
        trees[args.new or "work tree"] = _worktree(args.new, Path(tmp)) if args.new else ROOT
        server = qr.Server(qr.build_blocks())
        demo = DemoPrometheus(DemoSpec()).start()
        urls = {"obskit": server.url, "concurrent": demo.url}
        try:
            assert demo.process is not None
            os.environ[qr.SERVER_PID] = str(demo.process.pid)
            for kind in KINDS:  # warm the servers' caches, untimed
                _measure(ROOT, kind, urls[kind])
            found: dict[tuple[str, str], list[dict[str, Any]]] = {}
            for _ in range(args.repeat):
                for kind in KINDS:
                    for name, tree in trees.items():
                        found.setdefault((kind, name), []).append(_measure(tree, kind, urls[kind]))
        finally:
            server.stop()
            demo.stop()
            for tree in trees.values():
                if tree != ROOT:
                    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                                    str(tree)], check=False)  # fmt: skip
    print(f"Medians of {args.repeat} fresh-process runs each, interleaved; load average "
          f"{os.getloadavg()[0]:.1f} at the end.\n")  # fmt: skip
    print("| measurement | " + " | ".join(trees) + " |")
    print("|---|" + "---|" * len(trees))
    for kind in KINDS:
        cells = [_summary(found[(kind, name)]) for name in trees]
        print(f"| {kind} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    os.environ.pop("PROMETHEUS_URL", None)
    sys.exit(main())
