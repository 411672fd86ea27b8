"""Dashboards as code: panel builders, the committed files, check, add, preview, import, diff.

``grafana/dashboards/NAME.dashboard.py`` is the hand-written source, ``NAME.json`` the
generated file Grafana provisions, ``NAME.panels.yaml`` the panels added from notebooks.
"""

from . import panels
from ._check import check, run_query
from ._diff import Change, diff
from ._files import (
    SOURCE_SUFFIX,
    PanelChange,
    Problem,
    add_panel,
    build,
    dashboards_dir,
    load,
    names,
    preview,
    render,
)
from ._import import import_dashboard, normalised
from ._inspect import inspect
from ._model import read

__all__ = [
    "SOURCE_SUFFIX",
    "Change",
    "PanelChange",
    "Problem",
    "add_panel",
    "build",
    "check",
    "dashboards_dir",
    "diff",
    "import_dashboard",
    "inspect",
    "load",
    "names",
    "normalised",
    "panels",
    "preview",
    "read",
    "render",
    "run_query",
]
