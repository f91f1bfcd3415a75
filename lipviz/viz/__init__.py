"""Visualisation in layers: ``compute`` (pure, tested numerically), ``static`` (matplotlib, for
the built book), ``interactive`` (plotly figures) and, later, ``widgets`` (ipywidgets + plotly).

Import the submodules directly: ``from lipviz.viz import static``. Nothing heavy is imported here.
"""

__all__ = ["compute", "interactive", "static"]
