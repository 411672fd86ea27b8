"""Plotly figures from obskit's tidy frames (pure: no HTTP, no files)."""

from ._plots import KINDS, PALETTE, TEMPLATE, figure_grid, heatmap_frame, infer_kind, plot

__all__ = ["KINDS", "PALETTE", "TEMPLATE", "figure_grid", "heatmap_frame", "infer_kind", "plot"]
