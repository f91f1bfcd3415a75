"""Visualisation in three layers: ``compute`` (pure: arrays and DataFrames, tested
numerically), ``static`` (matplotlib, for the built book) and ``widgets`` (ipywidgets controls
wired to plotly FigureWidgets that update in place), plus ``interactive`` (plotly figures that
need no kernel). Local bounds have their own pair, ``compute_local`` and ``static_local``;
``static_reproduction`` and ``static_landscape`` draw results against the papers, and the
``diagrams_*`` modules draw the book's explanatory diagrams (margins, convolutions, SOC, LLN,
local bounds). ``widgets`` gathers the explorers of ``widgets_models`` and ``widgets_layers``
and the shared parts of ``widgets_core``.

Import the submodules directly: ``from lipviz.viz import static``. Nothing heavy is imported here.
"""

__all__ = [
    "compute",
    "compute_local",
    "diagrams_convolution",
    "diagrams_lln",
    "diagrams_local",
    "diagrams_margins",
    "diagrams_soc",
    "interactive",
    "static",
    "static_landscape",
    "static_local",
    "static_reproduction",
    "widgets",
    "widgets_core",
    "widgets_layers",
    "widgets_models",
]
