"""Visualisation in three layers: ``compute`` (pure: arrays and DataFrames, tested
numerically), ``static`` (matplotlib, for the built book) and ``widgets`` (ipywidgets controls
wired to plotly FigureWidgets that update in place), plus ``interactive`` (plotly figures that
need no kernel). Local bounds have their own pair, ``compute_local`` and ``static_local``.

Import the submodules directly: ``from lipviz.viz import static``. Nothing heavy is imported here.
"""

__all__ = [
    "compute",
    "compute_local",
    "interactive",
    "static",
    "static_landscape",
    "static_local",
    "static_reproduction",
    "widgets",
]
