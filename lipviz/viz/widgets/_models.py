"""Explorers of trained models: singular-value spectra, certified-radius histograms,
accuracy against ε, what LMT's c asks, and a live training dashboard."""

from __future__ import annotations

import numpy as np

from .. import compute
from ._core import COLORS, _control, _Explorer, _figure, _slider, static_mode

__all__ = [
    "AccuracyCurveExplorer",
    "LMTMarginExplorer",
    "RadiusHistogramExplorer",
    "SpectrumExplorer",
    "TrainingDashboard",
]


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
            fig.add_scatter(
                x=pos + jitter + 0.1 * i,
                y=s.sigma,
                mode="markers",
                name=label,
                marker={"size": 3, "color": COLORS[i % len(COLORS)]},
                text=s.name + " (" + s.type + ", " + s.method + ")",
            )
        fig.add_hline(y=1.0, line_dash="dot")
        scale = _control(
            "ToggleButtons", options=["log", "linear"], value="log", description="y axis"
        )
        super().__init__(fig, {"scale": scale})

    def _update(self):
        self.figure.layout.yaxis.type = self.controls["scale"].value
        rows = [
            f"<b>{k}</b>: σ in [{s.sigma.min():.3g}, {s.sigma.max():.3g}]"
            for k, s in self.spectra.items()
        ]
        self.readout.value = " &nbsp; ".join(rows)

    def static(self):
        from ..static import plot_spectra

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
        fig = _figure(
            barmode="overlay", xaxis_title="certified radius (input units)", yaxis_title="inputs"
        )
        for i, (label, r) in enumerate(self.radii.items()):
            fig.add_histogram(
                x=r[r > 0],
                name=label,
                opacity=0.55,
                nbinsx=40,
                marker_color=COLORS[i % len(COLORS)],
            )
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
        from ..static import plot_radius_histograms

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
        fig = _figure(
            xaxis_title="l2 radius ε (input units)",
            yaxis_title="accuracy (%)",
            yaxis_range=[0, 100],
        )
        for i, (label, t) in enumerate(tables.items()):
            for kind, dash in self.KINDS.items():
                fig.add_scatter(
                    x=t.eps,
                    y=100 * t[kind],
                    name=f"{label}: {kind}",
                    meta=kind,
                    line={"dash": dash, "color": COLORS[i % len(COLORS)]},
                )
        top = float(max(t.eps.max() for t in tables.values()))
        fig.add_vline(x=0.0, line_color="gray")
        kinds = _control(
            "SelectMultiple",
            options=list(self.KINDS),
            value=list(self.KINDS),
            rows=3,
            description="show",
        )
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
        from ..static import plot_accuracy_vs_eps

        return plot_accuracy_vs_eps(self.tables, eps=self.controls["eps"].value)


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
        fig.add_histogram(
            x=self.radii[self.radii > 0],
            histnorm="percent",
            opacity=0.4,
            name="certified radii (% per bin)",
            nbinsx=40,
        )
        fig.add_vline(x=1.0, line_color="black")
        super().__init__(fig, {"c": _slider("c", 0.0, max_c, min(1.0, max_c), max_c / 100)})

    def _update(self):
        c = self.controls["c"].value
        self.figure.layout.shapes[0].update(x0=c, x1=c)
        met = float(np.interp(c, self.profile.c, self.profile.fraction_met))
        loss = float(np.interp(c, self.profile.c, self.profile.lmt_loss))
        self.readout.value = (
            f"c = {c:.3g}: {100 * met:.1f}% of inputs meet the margin; LMT cross-entropy {loss:.3f}"
        )

    def static(self):
        from ..static import plot_lmt_profile

        return plot_lmt_profile(self.profile, self.radii, self.controls["c"].value)


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
        self.readout.value = (
            f"epoch {last['epoch']}: loss {last['loss']:.4f}, "
            f"val acc {last['val_acc']:.3f}, "
            f"val certified {last['val_cert_acc']:.3f}"
        )

    def static(self):
        import pandas as pd

        from ..static import plot_training

        return plot_training(pd.DataFrame(self.rows), self.PANELS)
