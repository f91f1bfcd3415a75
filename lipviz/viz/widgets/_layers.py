"""Explorers of layers and points: power iteration against the exact norm, an SOC layer's
Taylor terms, a 2-D point's certified ball, and local bounds as ε and the thresholds move."""

from __future__ import annotations

import numpy as np

from .. import compute
from ._core import _control, _Explorer, _figure, _slider

__all__ = [
    "LocalBoundExplorer",
    "PointCertificateExplorer",
    "PowerIterationExplorer",
    "SOCTermsExplorer",
]


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
        fig.add_scatter(
            x=[1], y=[t.estimate[0]], mode="markers", marker={"size": 12}, name="current"
        )
        n_iter = _control("IntSlider", value=1, min=1, max=max_n_iter, description="n_iter")
        super().__init__(fig, {"n_iter": n_iter})

    def _update(self):
        k = self.controls["n_iter"].value
        row = self.trace.iloc[k - 1]
        self.figure.data[3].update(x=[k], y=[row.estimate])
        self.readout.value = (
            f"{k} steps: estimate {row.estimate:.5f} = "
            f"{100 * row.estimate / row.exact:.2f}% of exact {row.exact:.5f}; "
            f"sound bound {row.sound:.5f}"
        )

    def static(self):
        from ..static import plot_power_iteration

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

        from ...exact.jacobian import truncation_table

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
        self.readout.value = (
            f"K = {k}: σ in [{sv.min():.6f}, {sv.max():.6f}]; "
            f"exact σ_max (zero padding) {row.sigma_max:.6f} ≤ "
            f"sound bound 1 + ‖A‖^(K+1)/(K+1)! = {row.bound:.6f}"
        )

    def static(self):
        from ..static import plot_soc_terms

        return plot_soc_terms(self.table, self.controls["terms"].value)


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
        from ...exact.planar import decision_grid

        self.model, self.n_directions = model, n_directions
        xs, ys, pred, _ = decision_grid(model, extent, resolution)
        self.grid = tuple(np.asarray(v) for v in (xs, ys, pred))
        fig = _figure(xaxis_title="x1", yaxis_title="x2", height=480, showlegend=False)
        fig.add_heatmap(
            x=self.grid[0],
            y=self.grid[1],
            z=self.grid[2],
            showscale=False,
            colorscale=[[0, "#dbe9f6"], [1, "#f9dcdc"]],
            hoverinfo="skip",
        )
        fig.add_scatter(x=[0.0], y=[0.0], mode="markers", marker={"size": 9, "color": "black"})
        fig.add_shape(type="circle", line={"color": "#2ca02c", "width": 3})  # certified
        fig.add_shape(type="circle", line={"color": "black", "dash": "dash"})  # true distance
        fig.update_yaxes(scaleanchor="x")
        x0, x1, y0, y1 = extent
        super().__init__(
            fig,
            {
                "x": _slider("x1", x0, x1, (x0 + x1) / 2, (x1 - x0) / 100),
                "y": _slider("x2", y0, y1, (y0 + y1) / 2, (y1 - y0) / 100),
            },
        )

    def _update(self):
        p = compute.point_certificate(
            self.model,
            [self.controls["x"].value, self.controls["y"].value],
            n_directions=self.n_directions,
        )
        self.state = p
        self.figure.data[1].update(x=[p["x"]], y=[p["y"]])
        for shape, r in zip(
            self.figure.layout.shapes, (p["certified_radius"], p["true_distance"]), strict=True
        ):
            r = 0.0 if not np.isfinite(r) else r
            shape.update(x0=p["x"] - r, x1=p["x"] + r, y0=p["y"] - r, y1=p["y"] + r)
        ratio = p["certified_radius"] / p["true_distance"] if p["true_distance"] > 0 else 0.0
        self.readout.value = (
            f"class {p['predicted']}: certified {p['certified_radius']:.4f} ≤ "
            f"true distance {p['true_distance']:.4f} "
            f"({100 * ratio:.0f}% of it)"
        )

    def static(self):
        from ..static import plot_point_certificate

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
        :func:`lipviz.viz.compute.local_profile`).
    threshold_scales : sequence of float
        The factors the threshold slider offers.

    Attributes
    ----------
    table : pandas.DataFrame
        The precomputed profile.
    """

    def __init__(self, model, x, y, eps_values=(0.05, 0.1, 0.2), threshold_scales=(0.5, 1.0, 2.0)):
        self.table = compute.local_profile(
            model, x, y, eps_values, threshold_scales=threshold_scales
        )
        self.layers = [c for c in self.table.columns if c.startswith("fixed:")]
        fig = _figure(
            xaxis_title="activation (layer index)",
            yaxis_range=[0, 100],
            yaxis_title="% of neurons fixed on the ball",
        )
        fig.add_bar(x=[c.split(":", 1)[1] for c in self.layers], y=[0] * len(self.layers))
        eps = _control(
            "SelectionSlider",
            options=[float(e) for e in eps_values],
            value=float(eps_values[0]),
            description="ε",
        )
        scale = _control(
            "SelectionSlider",
            options=[float(t) for t in threshold_scales],
            value=float(threshold_scales[len(threshold_scales) // 2]),
            description="thresholds ×",
        )
        super().__init__(fig, {"eps": eps, "scale": scale})

    def _row(self):
        t = self.table
        pick = (t.eps == self.controls["eps"].value) & (t.scale == self.controls["scale"].value)
        return t[pick].iloc[0]

    def _update(self):
        row = self._row()
        self.figure.data[0].y = [100 * row[c] for c in self.layers]
        self.readout.value = (
            f"local bound {row.local_mean:.4g} (mean) vs global "
            f"{row['global']:.4g}; certified {100 * row.certified_local:.1f}% "
            f"local, {100 * row.certified_global:.1f}% global"
        )

    def static(self):
        from ..static import plot_local_profile

        return plot_local_profile(
            self.table, self.controls["eps"].value, self.controls["scale"].value
        )
