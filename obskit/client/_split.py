"""Split a range query on its step grid and fetch the pieces concurrently, all or nothing."""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

__all__ = ["fetch_all", "progress_bar", "windows"]

log = logging.getLogger("obskit")
T = TypeVar("T")
P = TypeVar("P")
Window = tuple[int, int]

#: In a notebook, progress is shown by default from this many chunks on.
PROGRESS_FROM = 4


def windows(start_ms: int, end_ms: int, step_ms: int, max_points: int) -> list[Window]:
    """Split ``[start, end]`` (ms) into windows of at most ``max_points`` grid points.

    Points lie on the grid ``start + k * step``; each window's end plus one step is the
    next window's start, so stitched windows have no duplicate and no missing point.

    >>> windows(0, 9_000, 1_000, 4)
    [(0, 3000), (4000, 7000), (8000, 9000)]
    """
    points = (end_ms - start_ms) // step_ms + 1
    return [
        (start_ms + first * step_ms, start_ms + (min(first + max_points, points) - 1) * step_ms)
        for first in range(0, points, max_points)
    ]


def fetch_all(
    fetch: Callable[[P], T],
    parts: Sequence[P],
    *,
    max_workers: int,
    progress: bool | None = None,
    label: str = "",
) -> list[T]:
    """``fetch`` every part (a window, or any job) with at most ``max_workers`` threads;
    results in the parts' order.

    The first failure cancels the windows not yet started and is raised: a caller never
    gets a partial result. ``progress`` shows a progress bar (:func:`progress_bar`) and
    logs each finished chunk on the ``obskit`` logger. The default (``None``) shows it
    only in a Jupyter kernel and for :data:`PROGRESS_FROM` chunks or more; ``False``
    never shows it.

    >>> fetch_all(lambda w: w[1] - w[0], windows(0, 9_000, 1_000, 4), max_workers=2)
    [3000, 3000, 1000]
    """
    if len(parts) == 1:
        return [fetch(parts[0])]
    show = progress if progress is not None else len(parts) >= PROGRESS_FROM and _in_notebook()
    with ThreadPoolExecutor(min(max_workers, len(parts)), "obskit-chunk") as pool:
        futures = [pool.submit(fetch, part) for part in parts]
        _wait_all(futures, label, show)
    return [f.result() for f in futures]


def _wait_all(futures: list[Future[T]], label: str, show: bool) -> None:
    pending: set[Future[T]] = set(futures)
    bar = progress_bar(len(futures), label) if show else None
    try:
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in done:
                error = future.exception()
                if error is not None:
                    for other in pending:
                        other.cancel()
                    raise error
            if show:
                finished = len(futures) - len(pending)
                log.info("%s: %d/%d chunks fetched", label or "query_range", finished, len(futures))
            if bar is not None:
                bar.update(len(done))
    finally:
        if bar is not None:
            bar.close()


def progress_bar(total: int, label: str) -> Any | None:
    """A tqdm bar over ``total`` chunks: a widget in a notebook, text on stderr elsewhere.

    ``None`` when tqdm is not installed (progress is then only logged). In a kernel
    without ipywidgets the text bar is used, as ``tqdm.auto`` would, minus its warning.

    >>> bar = progress_bar(3, "rate(x[5m])")  # doctest: +SKIP
    """
    try:
        if _in_notebook() and importlib.util.find_spec("ipywidgets") is not None:
            from tqdm.notebook import tqdm
        else:
            from tqdm import tqdm
    except ImportError:
        return None
    text = " ".join(label.split())
    desc = text if len(text) <= 40 else text[:39] + "…"
    return tqdm(total=total, desc=desc or "query_range", unit="chunk", leave=False)


def _in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (notebooks, nbval, papermill, nbconvert)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return any(cls.__name__ == "ZMQInteractiveShell" for cls in type(shell).__mro__)
