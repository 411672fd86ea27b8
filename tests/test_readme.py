"""Every example in README.md runs: the `obskit ...` lines of its shell blocks and its Python blocks.

Examples are extracted from the README itself, so it cannot drift from the code. Each runs as a
user would run it (a fresh process), in a temporary folder holding a copy of `grafana/` (so
`dashboards add` and `build` change only the copy), against the session's demo Prometheus
(``PROMETHEUS_URL``/``OBSKIT_NOW`` set) and a private cache folder. Placeholders (NAME, URL, ...)
are filled from ``FILL``; ``[optional parts]`` are included. A shell block's lines run in order,
once per session (``obskit demo start`` then ``status`` then ``stop``); each line is one test.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import CACHE_ROOT, ROOT
from obskit.demo.scenario import DemoSpec
from obskit.demo.server import free_port

README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
SHELL = {"sh", "bash", "shell", "console"}
PLACEHOLDER = re.compile(r"\b[A-Z][A-Z_]{2,}\b")
OPTIONAL = re.compile(r"\[(--[^\]]*)\]")  # `[--prometheus URL]`, never a PromQL range `[5m]`
#: Shell lines not run here, each with the reason. Everything else in a shell block must run.
EXEMPT = {
    "make demo": "runs JupyterLab in the foreground until Ctrl-C (tests/test_browser.py runs it)",
    "make test": "the whole test suite, this test included",
    "obskit demo lab": "runs until Ctrl-C (tests/test_demo_lab.py and test_browser.py run it)",
}


@dataclass(frozen=True)
class Example:
    """One runnable example: a shell line (block index, line index) or a Python block."""

    kind: str  # "shell" or "python"
    block: int
    line: int  # the line of README.md it starts on
    text: str

    @property
    def id(self) -> str:
        return f"README.md:{self.line} {self.text if self.kind == 'shell' else 'python block'}"


def examples(text: str) -> Iterator[Example]:
    for block, found in enumerate(FENCE.finditer(text)):
        language, body = found.group(1).lower(), found.group(2)
        first = text.count("\n", 0, found.start(2)) + 1
        if language == "python":
            yield Example("python", block, first, body)
        elif language in SHELL:
            for number, line in enumerate(body.splitlines(), start=first):
                command = line.split(" #", 1)[0].strip()
                if command and not command.startswith("#"):
                    yield Example("shell", block, number, command)


FOUND = list(examples(README.read_text(encoding="utf-8")))
EXAMPLES = [e for e in FOUND if e.kind == "python" or e.text not in EXEMPT]


def _fill(command: str, values: dict[str, str]) -> list[str]:
    """argv of a README line: optional [parts] included, placeholders replaced."""
    command = OPTIONAL.sub(r"\1", command)
    argv = shlex.split(command)
    filled = [values.get(word, word) for word in argv]
    left = [w for w in filled if PLACEHOLDER.fullmatch(w) and w not in values.values()]
    assert not left, f"placeholder(s) {left} in {command!r}: add them to FILL"
    return filled


class Workspace:
    """Where the examples run: a folder with grafana/, the demo's URL, a private cache."""

    def __init__(self, root: Path, url: str, end: str) -> None:
        self.root = root
        shutil.copytree(ROOT / "grafana", root / "grafana")
        cache = root / "cache"
        data = cache / "demo" / "data"
        data.mkdir(parents=True)
        # The notebooks' week is the session demo's data: reuse its cache entry (read-only use),
        # so `obskit demo start --end 2026-02-14T18:00:00Z` starts warm; any other set is drawn here.
        key = DemoSpec().key()
        if (CACHE_ROOT / "demo" / "data" / key).is_dir():
            (data / key).symlink_to(CACHE_ROOT / "demo" / "data" / key)
        self.env = {
            **os.environ,
            "PROMETHEUS_URL": url,
            "OBSKIT_NOW": end,
            "OBSKIT_CACHE_DIR": str(cache),
            "TMPDIR": str(root),
        }
        self.fill = {
            "URL": url,
            "NAME": "business-dashboard",
            "EXPR": "sum(increase(voicebot_calls_total[$__range]))",
            "TITLE": "Calls in range",
            "PORT": str(free_port()),
        }
        self.results: dict[tuple[int, int], subprocess.CompletedProcess[str]] = {}

    def run(self, argv: list[str], timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, cwd=self.root, env=self.env, capture_output=True, text=True, timeout=timeout
        )

    def shell(self, example: Example) -> subprocess.CompletedProcess[str]:
        """Run every line of ``example``'s block up to it, in order, once; its result."""
        for other in FOUND:
            if other.kind != "shell" or other.block != example.block:
                continue
            key = (other.block, other.line)
            if key not in self.results and other.text not in EXEMPT:
                argv = _fill(other.text, self.fill)
                assert argv[0] == "obskit", f"a shell line that is not obskit: {other.text!r}"
                self.results[key] = self.run([sys.executable, "-m", "obskit.cli", *argv[1:]])
            if other == example:
                return self.results[key]
        raise AssertionError(f"{example} is not in README.md")

    def stop_demo(self) -> None:
        self.run([sys.executable, "-m", "obskit.cli", "demo", "stop"], timeout=60)


@pytest.fixture(scope="module")
def workspace(demo, tmp_path_factory) -> Iterator[Workspace]:
    space = Workspace(tmp_path_factory.mktemp("readme"), demo.url, demo.state()["end"])
    try:
        yield space
    finally:
        space.stop_demo()  # a failed example must not leave a background demo behind


def test_examples_are_found() -> None:
    kinds = {e.kind for e in FOUND}
    assert kinds == {"shell", "python"}, f"README.md examples found: {kinds}"
    assert set(EXEMPT) <= {e.text for e in FOUND}, "EXEMPT names a line the README lost"


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_readme_example_runs(example: Example, workspace: Workspace) -> None:
    if example.kind == "python":
        done = workspace.run([sys.executable, "-c", example.text])
    else:
        done = workspace.shell(example)
    output = f"stdout:\n{done.stdout[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr, output
    assert done.returncode == 0, output
