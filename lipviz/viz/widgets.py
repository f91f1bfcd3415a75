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
"""

from __future__ import annotations

import os

import numpy as np
import traitlets

from . import compute, compute_local

__all__ = [
    "AccuracyCurveExplorer",
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
]

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


def static_mode() -> bool:
    """True when figures must be static (the book build sets ``LIPVIZ_STATIC=1``)."""
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
    return _control("FloatSlider", value=value, min=lo, max=hi, step=step,
                    description=description, continuous_update=True,
                    readout_format=".3g")  # fmt: skip


class SpectrumExplorer(_Explorer):
    """Singular values of every linear layer, several models side by side (log or linear).

    The spectra are computed once; the toggle only switches the y axis between log and linear
    scales. ``static()`` draws :func:`lipviz.viz.static.plot_spectra` and returns its Axes.

    Parameters
    ----------
    models : dict
        Maps a label to an ``nn.Module``; one colour per model.
    input_shape : tuple of int
        One input without the batch dimension, e.g. ``(3, 32, 32)``, for every model.

    Attributes
    ----------
    spectra : dict
        Maps each label to its :func:`lipviz.viz.compute.layer_spectra` frame.
    widget : ipywidgets.VBox or None
        The live view (None in static mode): the controls, a readout (the range of σ per
        model) and the figure.
    """

    def __init__(self, models: dict, input_shape):
        self.spectra = {k: compute.layer_spectra(m, input_shape) for k, m in models.items()}
        fig = _figure(xaxis_title="layer (in order)", yaxis_title="singular value")
        for i, (label, s) in enumerate(self.spectra.items()):
            pos = s.layer.rank(method="dense").to_numpy() - 1
            jitter = np.random.default_rng(i).uniform(-0.3, 0.3, len(s))
            fig.add_scatter(x=pos + jitter + 0.1 * i, y=s.sigma, mode="markers", name=label,
                            marker={"size": 3, "color": COLORS[i % len(COLORS)]},
                            text=s.name + " (" + s.type + ", " + s.method + ")")  # fmt: skip
        fig.add_hline(y=1.0, line_dash="dot")
        scale = _control("ToggleButtons", options=["log", "linear"], value="log",
                         description="y axis")  # fmt: skip
        super().__init__(fig, {"scale": scale})

    def _update(self):
        self.figure.layout.yaxis.type = self.controls["scale"].value
        rows = [f"<b>{k}</b>: σ in [{s.sigma.min():.3g}, {s.sigma.max():.3g}]"
                for k, s in self.spectra.items()]  # fmt: skip
        self.readout.value = " &nbsp; ".join(rows)

    def static(self):
        from .static import plot_spectra

        return plot_spectra(self.spectra, log=self.controls["scale"].value == "log")


class RadiusHistogramExplorer(_Explorer):
    """Overlaid certified-radius histograms, an ε marker and the fraction certified at ε.

    ``radii`` maps a label to per-input radii with 0 for misclassified inputs
    (:func:`lipviz.viz.compute.correct_radii`).

    The histograms are of the positive radii (40 bins); the readout gives, per label, the
    fraction with a radius greater than ε (:func:`lipviz.viz.compute.certified_fractions`).
    ``static()`` draws :func:`lipviz.viz.static.plot_radius_histograms` and returns its Axes.

    Parameters
    ----------
    radii : dict
        Maps a label to array-like radii of shape ``(N,)``, 0 for misclassified inputs.
    eps : float
        The initial ε of the slider (clipped to its range).
    max_eps : float, optional
        The end of the ε slider (which starts at 0); by default the largest 99 % quantile of
        the radii over the labels (1.0 if that is 0).

    Attributes
    ----------
    radii : dict
        The radii as float NumPy arrays.
    widget : ipywidgets.VBox or None
        The live view (None in static mode): the slider, a readout and the figure.
    """

    def __init__(self, radii: dict, eps: float = 0.5, max_eps: float | None = None):
        self.radii = {k: np.asarray(v, dtype=float) for k, v in radii.items()}
        top = max_eps or float(max(np.quantile(r, 0.99) for r in self.radii.values()) or 1.0)
        fig = _figure(barmode="overlay", xaxis_title="certified radius (input units)",
                      yaxis_title="inputs")  # fmt: skip
        for i, (label, r) in enumerate(self.radii.items()):
            fig.add_histogram(x=r[r > 0], name=label, opacity=0.55, nbinsx=40,
                              marker_color=COLORS[i % len(COLORS)])  # fmt: skip
        fig.add_vline(x=eps, line_color="black")
        super().__init__(fig, {"eps": _slider("ε", 0.0, top, min(eps, top), top / 100)})

    def _update(self):
        eps = self.controls["eps"].value
        self.figure.layout.shapes[0].update(x0=eps, x1=eps)
        table = compute.certified_fractions(self.radii, [eps])
        rows = [f"<b>{r.label}</b>: {100 * r.fraction:.1f}% certified" for r in table.itertuples()]
        self.readout.value = f"at ε = {eps:.3g}: " + " &nbsp; ".join(rows)
        self.figure.layout.title = f"certified at ε = {eps:.3g}"

    def static(self):
        from .static import plot_radius_histograms

        return plot_radius_histograms(self.radii, self.controls["eps"].value)


class AccuracyCurveExplorer(_Explorer):
    """Clean, certified and empirical (PGD) accuracy against ε for several models.

    ``tables`` maps a label to :func:`lipviz.viz.compute.accuracy_vs_eps` frames.

    A slider moves an ε marker, whose readout interpolates each curve linearly at ε, and a
    selector shows or hides each kind of curve. ``static()`` draws
    :func:`lipviz.viz.static.plot_accuracy_vs_eps` at the slider's ε and returns its Axes.

    Parameters
    ----------
    tables : dict
        Maps a label to a frame with the columns ``eps``, ``clean``, ``empirical`` and
        ``certified`` (fractions in [0, 1], drawn in %); the ε slider spans 0 to the largest
        ``eps`` and starts at half of it.

    Attributes
    ----------
    tables : dict
        The frames as given.
    widget : ipywidgets.VBox or None
        The live view (None in static mode): the controls, a readout and the figure.
    """

    KINDS = {"clean": "dot", "empirical": "dash", "certified": "solid"}

    def __init__(self, tables: dict):
        self.tables = tables
        fig = _figure(xaxis_title="l2 radius ε (input units)", yaxis_title="accuracy (%)",
                      yaxis_range=[0, 100])  # fmt: skip
        for i, (label, t) in enumerate(tables.items()):
            for kind, dash in self.KINDS.items():
                fig.add_scatter(x=t.eps, y=100 * t[kind], name=f"{label}: {kind}", meta=kind,
                                line={"dash": dash, "color": COLORS[i % len(COLORS)]})  # fmt: skip
        top = float(max(t.eps.max() for t in tables.values()))
        fig.add_vline(x=0.0, line_color="gray")
        kinds = _control("SelectMultiple", options=list(self.KINDS), value=list(self.KINDS),
                         rows=3, description="show")  # fmt: skip
        super().__init__(fig, {"eps": _slider("ε", 0.0, top, top / 2, top / 100), "kinds": kinds})

    def _update(self):
        eps, kinds = self.controls["eps"].value, set(self.controls["kinds"].value)
        for trace in self.figure.data:
            trace.visible = trace.meta in kinds
        self.figure.layout.shapes[0].update(x0=eps, x1=eps)
        rows = []
        for label, t in self.tables.items():
            vals = {k: np.interp(eps, t.eps, 100 * t[k]) for k in self.KINDS}
            rows.append(f"<b>{label}</b>: " + ", ".join(f"{k} {v:.1f}%" for k, v in vals.items()))
        self.readout.value = f"at ε = {eps:.3g} (interpolated): " + " &nbsp; ".join(rows)

    def static(self):
        from .static import plot_accuracy_vs_eps

        return plot_accuracy_vs_eps(self.tables, eps=self.controls["eps"].value)


class PowerIterationExplorer(_Explorer):
    """Power-iteration estimate after k steps against the exact norm and the sound bound.

    The trace is computed once; the slider only moves the marker along it. ``static()`` draws
    :func:`lipviz.viz.static.plot_power_iteration` and returns its Axes.

    Parameters
    ----------
    module : nn.Linear or nn.Conv2d
        The linear module (bias ignored).
    input_shape : tuple of int
        Without the batch dimension; small (the exact norm comes from the dense Jacobian).
    max_n_iter : int
        The largest number of steps (the slider runs from 1 to it).

    Attributes
    ----------
    trace : pandas.DataFrame
        The :func:`lipviz.viz.compute.power_iteration_trace` frame.
    widget : ipywidgets.VBox or None
        The live view (None in static mode): the slider, a readout and the figure.
    """

    def __init__(self, module, input_shape, max_n_iter: int = 50):
        self.trace = compute.power_iteration_trace(module, input_shape, max_n_iter)
        t = self.trace
        fig = _figure(xaxis_title="power-iteration steps", yaxis_title="operator norm")
        fig.add_scatter(x=t.n_iter, y=t.estimate, name="estimate (never above exact)")
        fig.add_scatter(x=t.n_iter, y=t.exact, name="exact (dense SVD)", line={"dash": "dot"})
        fig.add_scatter(x=t.n_iter, y=t.sound, name="sound bound (certificates)")
        fig.add_scatter(x=[1], y=[t.estimate[0]], mode="markers", marker={"size": 12},
                        name="current")  # fmt: skip
        n_iter = _control("IntSlider", value=1, min=1, max=max_n_iter, description="n_iter")
        super().__init__(fig, {"n_iter": n_iter})

    def _update(self):
        k = self.controls["n_iter"].value
        row = self.trace.iloc[k - 1]
        self.figure.data[3].update(x=[k], y=[row.estimate])
        self.readout.value = (f"{k} steps: estimate {row.estimate:.5f} = "
                              f"{100 * row.estimate / row.exact:.2f}% of exact {row.exact:.5f}; "
                              f"sound bound {row.sound:.5f}")  # fmt: skip

    def static(self):
        from .static import plot_power_iteration

        return plot_power_iteration(self.trace, self.controls["n_iter"].value)


class SOCTermsExplorer(_Explorer):
    """An SOC layer's spectrum and sound bound as the number of Taylor terms changes.

    For the slider's highest power K, the histogram shows every singular value of the layer
    with circular padding (:func:`lipviz.viz.compute.layer_spectra`, recomputed on each move)
    and a red line marks the sound bound (from :func:`lipviz.exact.jacobian.truncation_table`,
    computed once). ``static()`` draws :func:`lipviz.viz.static.plot_soc_terms` and returns
    its Axes.

    Parameters
    ----------
    soc : lipviz.layers.SOC
        The layer; its ``eval_terms`` is changed while tabulating, and restored.
    input_shape : tuple of int
        ``(C, H, W)``, small: the exact table uses a dense Jacobian.
    max_terms : int
        The largest K (the slider runs from 1 to it, starting at 2).

    Attributes
    ----------
    table : pandas.DataFrame
        The truncation table for K = 1..``max_terms`` (columns ``terms``, ``sigma_max``,
        ``sigma_min``, ``bound``).
    widget : ipywidgets.VBox or None
        The live view (None in static mode): the slider, a readout and the figure.
    """

    def __init__(self, soc, input_shape, max_terms: int = 12):
        from torch import nn

        from ..exact.jacobian import truncation_table

        self.soc, self.input_shape = soc, tuple(input_shape)
        self.table = truncation_table(soc, self.input_shape, terms=range(1, max_terms + 1))
        self._net = nn.Sequential(soc)
        fig = _figure(xaxis_title="singular value", yaxis_title="count", bargap=0.05)
        fig.add_histogram(x=[1.0], nbinsx=40, name="singular values (circular padding)")
        fig.add_vline(x=1.0, line_dash="dot")
        fig.add_vline(x=1.0, line_color="#d62728")
        terms = _control("IntSlider", value=2, min=1, max=max_terms, description="terms K")
        super().__init__(fig, {"terms": terms})

    def spectrum(self, terms: int):
        """Every singular value of the layer (circular padding) with ``terms`` Taylor terms.

        Parameters
        ----------
        terms : int
            The highest power K (``eval_terms`` is restored afterwards).

        Returns
        -------
        numpy.ndarray
            Shape ``(n,)``, float64: the ``sigma`` column of
            :func:`lipviz.viz.compute.layer_spectra`.
        """
        saved = self.soc.eval_terms
        try:
            self.soc.eval_terms = terms
            return compute.layer_spectra(self._net, self.input_shape).sigma.to_numpy()
        finally:
            self.soc.eval_terms = saved

    def _update(self):
        k = self.controls["terms"].value
        sv = self.spectrum(k)
        row = self.table[self.table.terms == k].iloc[0]
        self.figure.data[0].x = sv
        self.figure.layout.shapes[1].update(x0=row.bound, x1=row.bound)
        self.readout.value = (f"K = {k}: σ in [{sv.min():.6f}, {sv.max():.6f}]; "
                              f"exact σ_max (zero padding) {row.sigma_max:.6f} ≤ "
                              f"sound bound 1 + ‖A‖^(K+1)/(K+1)! = {row.bound:.6f}")  # fmt: skip

    def static(self):
        from .static import plot_soc_terms

        return plot_soc_terms(self.table, self.controls["terms"].value)


class LMTMarginExplorer(_Explorer):
    """What LMT's c asks of a trained model: the radius histogram against c, and the fraction
    of inputs already meeting the enlarged margin (certified at radius c).

    The radii and the profile are computed once; the readout interpolates the fraction and the
    LMT cross-entropy linearly at the slider's c. ``static()`` draws
    :func:`lipviz.viz.static.plot_lmt_profile` and returns its Axes.

    Parameters
    ----------
    model : nn.Module
        A classifier with a registered sound bound for every layer.
    x : Tensor
        Inputs of shape ``(N, ...)``, on the CPU.
    y : Tensor
        Labels of shape ``(N,)``, int64.
    max_c : float
        The end of the c grid and slider (both start at 0; the slider starts at
        ``min(1, max_c)``).
    n_grid : int
        Number of evenly spaced values of c in the profile.

    Attributes
    ----------
    radii : numpy.ndarray
        Shape ``(N,)``: :func:`lipviz.viz.compute.correct_radii`.
    profile : pandas.DataFrame
        :func:`lipviz.viz.compute.lmt_c_profile` on the c grid.
    widget : ipywidgets.VBox or None
        The live view (None in static mode): the slider, a readout and the figure.
    """

    def __init__(self, model, x, y, max_c: float = 2.0, n_grid: int = 41):
        self.radii = compute.correct_radii(model, x, y)
        self.profile = compute.lmt_c_profile(model, x, y, np.linspace(0, max_c, n_grid))
        fig = _figure(xaxis_title="c (= the radius LMT asks for)", yaxis_title="% of inputs")
        p = self.profile
        fig.add_scatter(x=p.c, y=100 * p.fraction_met, name="meet the LMT margin at c")
        fig.add_histogram(x=self.radii[self.radii > 0], histnorm="percent", opacity=0.4,
                          name="certified radii (% per bin)", nbinsx=40)  # fmt: skip
        fig.add_vline(x=1.0, line_color="black")
        super().__init__(fig, {"c": _slider("c", 0.0, max_c, min(1.0, max_c), max_c / 100)})

    def _update(self):
        c = self.controls["c"].value
        self.figure.layout.shapes[0].update(x0=c, x1=c)
        met = float(np.interp(c, self.profile.c, self.profile.fraction_met))
        loss = float(np.interp(c, self.profile.c, self.profile.lmt_loss))
        self.readout.value = (f"c = {c:.3g}: {100 * met:.1f}% of inputs meet the margin; "
                              f"LMT cross-entropy {loss:.3f}")  # fmt: skip

    def static(self):
        from .static import plot_lmt_profile

        return plot_lmt_profile(self.profile, self.radii, self.controls["c"].value)


class PointCertificateExplorer(_Explorer):
    """Move a point on a 2-D toy: its certified ball against its true distance to the boundary.

    ``extent`` is ``(xmin, xmax, ymin, ymax)``, e.g. ``ToyDataset.extent()``.

    The decision map is computed once; each slider move recomputes the point's certificate and
    true distance (:func:`lipviz.viz.compute.point_certificate`). ``static()`` draws
    :func:`lipviz.viz.static.plot_point_certificate` and returns its Axes.

    Parameters
    ----------
    model : nn.Module
        A classifier on 2-D inputs (two classes for the map's colours), with a registered
        sound bound for every layer.
    extent : tuple of float
        ``(xmin, xmax, ymin, ymax)``: the map, and the ranges of the two sliders (which start
        at the centre).
    resolution : int
        Grid points per axis of the decision map.
    n_directions : int
        Rays of :func:`lipviz.exact.planar.boundary_distance` for the true distance.

    Attributes
    ----------
    grid : tuple of numpy.ndarray
        ``(xs, ys, pred)`` of shapes ``(resolution,)``, ``(resolution,)`` and
        ``(resolution, resolution)``.
    state : dict
        The current :func:`lipviz.viz.compute.point_certificate` result.
    widget : ipywidgets.VBox or None
        The live view (None in static mode): the sliders, a readout and the figure.
    """

    def __init__(self, model, extent, resolution: int = 120, n_directions: int = 180):
        from ..exact.planar import decision_grid

        self.model, self.n_directions = model, n_directions
        xs, ys, pred, _ = decision_grid(model, extent, resolution)
        self.grid = tuple(np.asarray(v) for v in (xs, ys, pred))
        fig = _figure(xaxis_title="x1", yaxis_title="x2", height=480, showlegend=False)
        fig.add_heatmap(x=self.grid[0], y=self.grid[1], z=self.grid[2], showscale=False,
                        colorscale=[[0, "#dbe9f6"], [1, "#f9dcdc"]], hoverinfo="skip")  # fmt: skip
        fig.add_scatter(x=[0.0], y=[0.0], mode="markers", marker={"size": 9, "color": "black"})
        fig.add_shape(type="circle", line={"color": "#2ca02c", "width": 3})  # certified
        fig.add_shape(type="circle", line={"color": "black", "dash": "dash"})  # true distance
        fig.update_yaxes(scaleanchor="x")
        x0, x1, y0, y1 = extent
        super().__init__(fig, {
            "x": _slider("x1", x0, x1, (x0 + x1) / 2, (x1 - x0) / 100),
            "y": _slider("x2", y0, y1, (y0 + y1) / 2, (y1 - y0) / 100),
        })  # fmt: skip

    def _update(self):
        p = compute.point_certificate(self.model, [self.controls["x"].value,
                                        self.controls["y"].value],
                                        n_directions=self.n_directions)  # fmt: skip
        self.state = p
        self.figure.data[1].update(x=[p["x"]], y=[p["y"]])
        for shape, r in zip(self.figure.layout.shapes, (p["certified_radius"], p["true_distance"]),
                            strict=True):  # fmt: skip
            r = 0.0 if not np.isfinite(r) else r
            shape.update(x0=p["x"] - r, x1=p["x"] + r, y0=p["y"] - r, y1=p["y"] + r)
        ratio = p["certified_radius"] / p["true_distance"] if p["true_distance"] > 0 else 0.0
        self.readout.value = (f"class {p['predicted']}: certified {p['certified_radius']:.4f} ≤ "
                              f"true distance {p['true_distance']:.4f} "
                              f"({100 * ratio:.0f}% of it)")  # fmt: skip

    def static(self):
        from .static import plot_point_certificate

        return plot_point_certificate(self.grid, self.state)


class LocalBoundExplorer(_Explorer):
    """Move ε and scale the clip thresholds: the neurons fixed on the balls per layer, the local
    against the global bound, and the certified fractions (Huang et al., NeurIPS 2021).

    Parameters
    ----------
    model : nn.Module
        A chain that local bounds support, ending in ``nn.Linear``.
    x : Tensor
        Inputs, shape ``(N, *input_shape)``.
    y : Tensor
        Labels, shape ``(N,)``.
    eps_values : sequence of float
        The radii the ε slider offers (computed once, in
        :func:`lipviz.viz.compute_local.local_profile`).
    threshold_scales : sequence of float
        The factors the threshold slider offers.

    Attributes
    ----------
    table : pandas.DataFrame
        The precomputed profile.
    """

    def __init__(self, model, x, y, eps_values=(0.05, 0.1, 0.2), threshold_scales=(0.5, 1.0, 2.0)):
        self.table = compute_local.local_profile(model, x, y, eps_values,
                                           threshold_scales=threshold_scales)  # fmt: skip
        self.layers = [c for c in self.table.columns if c.startswith("fixed:")]
        fig = _figure(xaxis_title="activation (layer index)", yaxis_range=[0, 100],
                      yaxis_title="% of neurons fixed on the ball")  # fmt: skip
        fig.add_bar(x=[c.split(":", 1)[1] for c in self.layers], y=[0] * len(self.layers))
        eps = _control("SelectionSlider", options=[float(e) for e in eps_values],
                       value=float(eps_values[0]), description="ε")  # fmt: skip
        scale = _control("SelectionSlider", options=[float(t) for t in threshold_scales],
                         value=float(threshold_scales[len(threshold_scales) // 2]),
                         description="thresholds ×")  # fmt: skip
        super().__init__(fig, {"eps": eps, "scale": scale})

    def _row(self):
        t = self.table
        pick = (t.eps == self.controls["eps"].value) & (t.scale == self.controls["scale"].value)
        return t[pick].iloc[0]

    def _update(self):
        row = self._row()
        self.figure.data[0].y = [100 * row[c] for c in self.layers]
        self.readout.value = (f"local bound {row.local_mean:.4g} (mean) vs global "
                              f"{row['global']:.4g}; certified {100 * row.certified_local:.1f}% "
                              f"local, {100 * row.certified_global:.1f}% global")  # fmt: skip

    def static(self):
        from .static_local import plot_local_profile

        return plot_local_profile(self.table, self.controls["eps"].value,
                                  self.controls["scale"].value)  # fmt: skip


class TrainingDashboard:
    """Loss, accuracy and certified accuracy updating live while a model trains.

    Pass it to :class:`lipviz.train.Trainer` (``callbacks=[dashboard]``); each epoch calls it
    with the rows so far and it rewrites the traces in place. ``static()`` draws the history.

    It takes no parameters. ``static()`` draws :func:`lipviz.viz.static.plot_training` with
    :attr:`PANELS` and returns its axes.

    Attributes
    ----------
    rows : list of dict
        The rows received so far, one per epoch.
    widget : ipywidgets.VBox or None
        The live view (None in static mode): a readout (the last epoch) and the two panels
        (loss; accuracies).
    """

    PANELS = (("loss", ("loss",)), ("accuracy", ("train_acc", "val_acc", "val_cert_acc")))

    def __init__(self):
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        subplots = make_subplots(rows=1, cols=2, subplot_titles=["loss", "accuracy"])
        fig = go.Figure(subplots) if static_mode() else go.FigureWidget(subplots)
        for col, (_, columns) in enumerate(self.PANELS, start=1):
            for name in columns:
                fig.add_scatter(x=[], y=[], mode="lines+markers", name=name, row=1, col=col)
        fig.update_layout(height=320, margin={"l": 40, "r": 20, "t": 40, "b": 40})
        self.figure, self.rows = fig, []
        self.readout = _control("HTML", value="waiting for the first epoch")
        self.widget = None
        if not static_mode():
            import ipywidgets as w

            self.widget = w.VBox([self.readout, fig])

    def __call__(self, rows) -> None:
        """Redraw every trace from the rows so far.

        Parameters
        ----------
        rows : sequence of dict
            One row per epoch, as :class:`lipviz.train.Trainer` passes them: keys ``epoch``,
            ``loss``, ``val_acc`` and ``val_cert_acc`` are required, ``train_acc`` is drawn
            when present (NaN otherwise).
        """
        self.rows = list(rows)
        with self.figure.batch_update():
            for trace in self.figure.data:
                trace.x = [r["epoch"] for r in self.rows]
                trace.y = [r.get(trace.name, np.nan) for r in self.rows]
        last = self.rows[-1]
        self.readout.value = (f"epoch {last['epoch']}: loss {last['loss']:.4f}, "
                              f"val acc {last['val_acc']:.3f}, "
                              f"val certified {last['val_cert_acc']:.3f}")  # fmt: skip

    def static(self):
        import pandas as pd

        from .static import plot_training

        return plot_training(pd.DataFrame(self.rows), self.PANELS)
