"""Visualisation in layers: ``compute`` and ``explorers`` (pure, tested numerically), ``static``
(matplotlib, for the built book), ``interactive`` (plotly figures) and ``widgets`` (ipywidgets
controls wired to plotly FigureWidgets that update in place).

Import the submodules directly: ``from lipviz.viz import static``. Nothing heavy is imported here.
"""

__all__ = ["compute", "explorers", "interactive", "static", "widgets"]
