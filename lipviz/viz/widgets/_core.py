"""The explorers' shared parts: static mode, :func:`show`, controls and the base class.

An explorer computes what it can once and, on a control change, rewrites only the figure parts
that move, inside one ``batch_update``. In static mode (the book build sets
``LIPVIZ_STATIC=1``) it builds no widget at all: its controls are plain observable values
(:class:`StaticControl`), its figure a plain ``plotly.graph_objects.Figure`` and ``widget`` is
``None``. A widget object opens a comm whose state the notebook executor records and the book
embeds in the page, which made the explorers' page tens of megabytes.
"""

from __future__ import annotations

import os

import traitlets

__all__ = ["COLORS", "StaticControl", "show", "static_mode"]

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def static_mode() -> bool:
    """Whether figures must be static (the book build sets ``LIPVIZ_STATIC=1``).

    Returns
    -------
    bool
        True when the environment variable ``LIPVIZ_STATIC`` is set to anything but ``""`` or
        ``"0"``.
    """
    return os.environ.get("LIPVIZ_STATIC", "") not in ("", "0")


def show(explorer) -> None:
    """Display the live widget, or its static matplotlib fallback when building the book.

    Static when the environment variable ``LIPVIZ_STATIC`` is set to anything but ``""`` or
    ``"0"``: then ``explorer.static()`` is drawn and shown with ``plt.show()``; otherwise
    ``explorer.widget`` is displayed with IPython.

    Parameters
    ----------
    explorer : object
        Any explorer of this module (or anything with a ``widget`` attribute and a
        ``static()`` method), e.g. a :class:`SpectrumExplorer` or a
        :class:`TrainingDashboard`.
    """
    from IPython.display import display

    if static_mode() or explorer.widget is None:
        import matplotlib.pyplot as plt

        explorer.static()
        plt.show()
    else:
        display(explorer.widget)


class StaticControl(traitlets.HasTraits):
    """A control's stand-in in static mode: an observable ``value`` and the control's settings.

    It behaves like the ipywidgets control it replaces where explorers and notebooks use it:
    ``value`` can be read, set and observed (``observe(fn, names="value")``), and the keyword
    arguments the widget was given (``min``, ``max``, ``options``, ``description``, ...) are
    attributes. It opens no comm, so nothing of it is stored in an executed notebook.

    Parameters
    ----------
    kind : str
        The name of the ipywidgets class it stands for, e.g. ``"FloatSlider"``.
    **settings
        The widget's keyword arguments, ``value`` included.

    Examples
    --------
    >>> c = StaticControl("FloatSlider", value=0.5, min=0.0, max=1.0)
    >>> seen = []
    >>> c.observe(lambda change: seen.append(change["new"]), names="value")
    >>> c.value = 0.25
    >>> seen, c.max
    ([0.25], 1.0)
    """

    value = traitlets.Any()

    def __init__(self, kind: str, **settings):
        super().__init__(value=settings.get("value"))
        self.kind, self._settings = kind, settings

    def __getattr__(self, name):
        settings = self.__dict__.get("_settings", {})
        if name in settings:
            return settings[name]
        msg = f"{type(self).__name__} ({self.__dict__.get('kind')}) has no {name!r}"
        raise AttributeError(msg)


def _control(kind: str, **settings):
    """An ipywidgets control, or its :class:`StaticControl` stand-in in static mode."""
    if static_mode():
        return StaticControl(kind, **settings)
    import ipywidgets as w

    return getattr(w, kind)(**settings)


class _Explorer:
    """A figure, its controls and a readout; subclasses fill ``_update`` and ``static``.

    In static mode (:func:`static_mode`) ``widget`` is ``None`` and nothing is a widget.
    """

    def __init__(self, figure, controls):
        self.figure, self.controls = figure, controls
        self.readout = _control("HTML", value="")
        for control in controls.values():
            control.observe(lambda _change: self.update(), names="value")
        self.widget = None
        if not static_mode():
            import ipywidgets as w

            self.widget = w.VBox([w.HBox(list(controls.values())), self.readout, figure])
        self.update()

    def update(self) -> None:
        with self.figure.batch_update():
            self._update()

    def _update(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def static(self):  # pragma: no cover - abstract
        raise NotImplementedError


def _figure(**layout):
    import plotly.graph_objects as go

    fig = go.Figure() if static_mode() else go.FigureWidget()
    fig.update_layout(**({"height": 360, "margin": {"l": 50, "r": 20, "t": 40, "b": 45}} | layout))
    return fig


def _slider(description, lo, hi, value, step):
    return _control(
        "FloatSlider",
        value=value,
        min=lo,
        max=hi,
        step=step,
        description=description,
        continuous_update=True,
        readout_format=".3g",
    )
