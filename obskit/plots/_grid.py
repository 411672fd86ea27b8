"""Lay plotly figures out like a Grafana dashboard grid, as one standalone HTML document."""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs, get_plotlyjs_version

from ..errors import ConfigError

__all__ = ["figure_grid"]

COLUMNS = 24  # Grafana's grid width
ROW_PX = 30  # Grafana's GRID_CELL_HEIGHT
GAP_PX = 8  # Grafana's GRID_CELL_VMARGIN
_CONFIG = {"responsive": True, "displaylogo": False}
_EXAMPLE = "{'x': 0, 'y': 0, 'w': 12, 'h': 8}"

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ margin: 16px; background: #F4F5F5; font-family: Helvetica, Arial, sans-serif; }}
h1 {{ font-size: 18px; font-weight: 500; color: #2B2B2B; margin: 0 0 12px 0; }}
.grid {{ display: grid; grid-template-columns: repeat({columns}, minmax(0, 1fr));
         grid-auto-rows: {row}px; gap: {gap}px; }}
.panel {{ background: white; border: 1px solid #E0E0E0; border-radius: 2px; overflow: hidden; }}
</style>
{plotlyjs}
</head>
<body>
<h1>{title}</h1>
<div class="grid">
{panels}
</div>
</body>
</html>
"""


def figure_grid(
    figures: Sequence[go.Figure],
    layout: Sequence[Mapping[str, int]],
    *,
    title: str = "obskit dashboard",
    include_plotlyjs: bool | str = True,
) -> str:
    """One HTML page showing ``figures`` placed by Grafana ``gridPos`` entries.

    The page uses a 24-column CSS grid with Grafana's 30 px rows and 8 px gaps, so a
    panel at ``{"x": 12, "y": 0, "w": 12, "h": 8}`` takes the right half, 8 rows tall.
    Output is deterministic: div ids are ``panel-1``, ``panel-2``, ... in the order
    given, and nothing random or time-dependent is written. The figures are copied,
    not changed.

    Parameters
    ----------
    figures : sequence of plotly.graph_objects.Figure
    layout : sequence of mappings
        One ``{"x", "y", "w", "h"}`` per figure, in grid units (``x + w <= 24``).
    title : str
        Page title and heading.
    include_plotlyjs : bool or "cdn"
        ``True`` (default) embeds plotly.js once (~4.8 MB) so the file works offline;
        ``"cdn"`` links the matching plotly.js release on cdn.plot.ly with an
        integrity hash; ``False`` leaves loading it to the caller.

    Returns
    -------
    str
        The HTML document; the caller writes it to a file.

    >>> import plotly.graph_objects as go
    >>> page = figure_grid([go.Figure()], [{"x": 0, "y": 0, "w": 24, "h": 6}],
    ...                    include_plotlyjs=False)
    >>> 'id="panel-1"' in page, "grid-column: 1 / span 24" in page
    (True, True)
    """
    figures = list(figures)
    cells = [_grid_pos(pos, i) for i, pos in enumerate(layout)]
    if len(cells) != len(figures):
        raise ConfigError(
            f"figure_grid needs one gridPos per figure; got {len(figures)} figures and "
            f"{len(cells)} layout entries"
        )
    pairs = enumerate(zip(figures, cells, strict=True))
    panels = "\n".join(_panel(fig, cell, i) for i, (fig, cell) in pairs)
    return _PAGE.format(
        title=html.escape(title),
        columns=COLUMNS,
        row=ROW_PX,
        gap=GAP_PX,
        plotlyjs=_plotlyjs(include_plotlyjs),
        panels=panels,
    )


def _grid_pos(pos: Any, i: int) -> tuple[int, int, int, int]:
    try:
        x, y, w, h = (pos[k] for k in ("x", "y", "w", "h"))
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"layout[{i}] must be a gridPos like {_EXAMPLE}; got {pos!r}") from exc
    numbers = (x, y, w, h)
    if any(isinstance(v, bool) or not isinstance(v, int) for v in numbers):
        raise ConfigError(f"layout[{i}] needs whole numbers like {_EXAMPLE}; got {pos!r}")
    if x < 0 or y < 0 or w < 1 or h < 1 or x + w > COLUMNS:
        raise ConfigError(
            f"layout[{i}] must have x, y >= 0, w, h >= 1 and x + w <= {COLUMNS} "
            f"(Grafana's grid); got {pos!r}"
        )
    return x, y, w, h


def _panel(fig: go.Figure, cell: tuple[int, int, int, int], i: int) -> str:
    x, y, w, h = cell
    height = h * ROW_PX + (h - 1) * GAP_PX - 2  # minus the panel border
    copy = go.Figure(fig)
    copy.update_layout(height=height, width=None, autosize=True)
    body = pio.to_html(
        copy,
        config=_CONFIG,
        full_html=False,
        include_plotlyjs=False,
        div_id=f"panel-{i + 1}",
        default_width="100%",
        default_height=f"{height}px",
        validate=False,
    )
    style = f"grid-column: {x + 1} / span {w}; grid-row: {y + 1} / span {h};"
    return f'<div class="panel" style="{style}">\n{body.strip()}\n</div>'


def _plotlyjs(include: bool | str) -> str:
    if include == "cdn":
        script = get_plotlyjs()
        digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
        url = f"https://cdn.plot.ly/plotly-{get_plotlyjs_version()}.min.js"
        return (
            f'<script charset="utf-8" src="{url}" integrity="sha256-{digest}" '
            'crossorigin="anonymous"></script>'
        )
    if include is True:
        return f'<script charset="utf-8">{get_plotlyjs()}</script>'
    if include is False:
        return ""
    raise ConfigError(f'include_plotlyjs must be True, False or "cdn"; got {include!r}')
