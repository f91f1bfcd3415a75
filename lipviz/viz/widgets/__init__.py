"""Live explorers: ipywidgets controls wired to plotly ``FigureWidget``s that update in place.

Each explorer computes what it can once (through :mod:`lipviz.viz.compute`) and, on a control
change, only rewrites the figure parts that move (a marker, a shape, a trace's data), inside one
``batch_update``. ``explorer.widget`` is the live view (JupyterLab, ``make lab``);
``explorer.static()`` draws the current state with matplotlib, which is what the built book
shows. :func:`show` picks one: the book build sets ``LIPVIZ_STATIC=1``.

In static mode an explorer builds no widget at all: its controls are plain observable values
(:class:`StaticControl`), its figure a plain ``plotly.graph_objects.Figure`` and ``widget`` is
``None``. A widget object opens a comm whose state the notebook executor records and the book
embeds in the page, which made the explorers' page tens of megabytes.

New sliders (for example the ε and clipping threshold of local bounds) follow the same pattern:
a control, an ``_update`` that touches only what changes, and a ``static`` drawing.

The explorers of trained models are in ``_models``, those of layers, points and local bounds
in ``_layers``, and static mode, :func:`show` and the base class in ``_core``.

This package is the one door to import; its modules (``_core``, ``_layers``, ``_models``) are
private.
"""

from ._core import COLORS, StaticControl, show, static_mode
from ._layers import (
    LocalBoundExplorer,
    PointCertificateExplorer,
    PowerIterationExplorer,
    SOCTermsExplorer,
)
from ._models import (
    AccuracyCurveExplorer,
    LMTMarginExplorer,
    RadiusHistogramExplorer,
    SpectrumExplorer,
    TrainingDashboard,
)

__all__ = [
    "AccuracyCurveExplorer",
    "COLORS",
    "LMTMarginExplorer",
    "LocalBoundExplorer",
    "PointCertificateExplorer",
    "PowerIterationExplorer",
    "RadiusHistogramExplorer",
    "SOCTermsExplorer",
    "SpectrumExplorer",
    "StaticControl",
    "TrainingDashboard",
    "show",
    "static_mode",
]
