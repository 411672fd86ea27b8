"""Split a range query on its step grid and fetch the pieces concurrently, all or nothing."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TypeVar

__all__ = ["fetch_all", "windows"]

log = logging.getLogger("obskit")
T = TypeVar("T")
Window = tuple[int, int]

#: In a notebook, progress is logged by default from this many chunks on.
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
    fetch: Callable[[Window], T],
    parts: Sequence[Window],
    *,
    max_workers: int,
    progress: bool | None = None,
    label: str = "",
) -> list[T]:
    """``fetch`` every window with at most ``max_workers`` threads; results in window order.

    The first failure cancels the windows not yet started and is raised: a caller never
    gets a partial result. ``progress`` logs each finished chunk on the ``obskit``
    logger (default: only in a notebook and for :data:`PROGRESS_FROM` chunks or more).

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


def _in_notebook() -> bool:
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"
