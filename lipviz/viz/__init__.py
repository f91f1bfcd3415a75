"""Visualisation in three layers, each one package with one door: ``compute`` (pure: arrays and
DataFrames, tested numerically), ``static`` (matplotlib, for the built book) and ``widgets``
(ipywidgets controls wired to plotly FigureWidgets that update in place). Beside them,
``diagrams`` draws the book's explanatory diagrams (margins, convolutions, SOC, LLN, local
bounds) with the small computations behind them, and ``interactive`` the plotly figures that
need no kernel.

Import the packages directly: ``from lipviz.viz import static``. Nothing heavy is imported here.
"""

__all__ = ["compute", "diagrams", "interactive", "static", "widgets"]
