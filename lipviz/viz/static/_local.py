"""Local bounds in matplotlib figures, for the built book (each takes an optional ``ax`` and
returns it); the data come from :mod:`lipviz.viz.compute`."""

from __future__ import annotations

import numpy as np

from ..axes import axes_or_new

__all__ = ["plot_box_and_ball", "plot_input_ball", "plot_local_profile", "plot_local_vs_global"]


def plot_local_profile(table, eps: float, scale: float = 1.0, ax=None):
    """The fraction of neurons fixed on the balls, per activation, at one (eps, scale) row of a
    :func:`lipviz.viz.compute.local_profile` table; the bounds and certified fractions in the
    title.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`lipviz.viz.compute.local_profile`.
    eps : float
        The radius of the row to draw (the nearest one in the table).
    scale : float
        The threshold scale of the row to draw (the nearest one in the table).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (``figsize=(6.5, 3.8)``) when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    ax = axes_or_new(ax, figsize=(6.5, 3.8))
    row = table.iloc[((table.eps - eps).abs() + (table.scale - scale).abs()).argmin()]
    layers = [c for c in table.columns if c.startswith("fixed:")]
    ax.bar([c.split(":", 1)[1] for c in layers], [100 * row[c] for c in layers], color="#1f77b4")
    ax.set(
        xlabel="activation (layer index)", ylabel="% of neurons fixed on the ball", ylim=(0, 100)
    )
    ax.set_title(
        f"ε={row.eps:g}, thresholds ×{row.scale:g}: local {row.local_mean:.3g} vs "
        f"global {row['global']:.3g}; certified {100 * row.certified_local:.0f}% local, "
        f"{100 * row.certified_global:.0f}% global",
        fontsize=10,
    )
    return ax


def plot_box_and_ball(geom: dict, ax=None):
    """Two output neurons of one layer on the ball: the IBP box, the ball's box, their
    intersection and where sampled points of the input ball land.

    Parameters
    ----------
    geom : dict
        From :func:`lipviz.viz.compute.box_and_ball`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (``figsize=(5.5, 5)``) when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    from matplotlib.patches import Rectangle

    ax = axes_or_new(ax, figsize=(5.5, 5))
    s = geom["samples"]
    ax.scatter(s[:, 0], s[:, 1], s=3, color="#7f7f7f", alpha=0.4, label="images of the ball")
    styles = (
        ("ibp", "#1f77b4", "--", "IBP box"),
        ("ball", "#ff7f0e", ":", "ball's box"),
        ("box", "#2ca02c", "-", "box ∩ ball"),
    )
    for key, color, style, label in styles:
        lo, hi = geom[key]
        ax.add_patch(Rectangle(lo, *(hi - lo), fill=False, ec=color, ls=style, lw=2, label=label))
    ax.plot(*geom["centre"], "k+", ms=12, label="centre μ")
    for k, axline in ((0, ax.axvline), (1, ax.axhline)):
        lo = min(geom[key][0][k] for key in ("ibp", "ball"))
        hi = max(geom[key][1][k] for key in ("ibp", "ball"))
        if lo <= 0 <= hi:
            axline(0.0, color="#d62728", lw=0.8)  # the ReLU's kink inside the boxes
    j, k = geom["neurons"]
    ax.set(xlabel=f"neuron {j} of layer {geom['layer']}", ylabel=f"neuron {k}")
    ax.autoscale_view()
    ax.legend(loc="best")
    return ax


def plot_input_ball(model, x, eps: float, status, extent, ax=None, resolution: int = 200):
    """A 2-D input ball on the decision regions, with the first layer's lines: solid red for
    neurons fixed on the ball, grey for those that vary.

    Parameters
    ----------
    model : nn.Module
        A classifier on 2-D inputs.
    x : sequence of float
        The centre (2 coordinates).
    eps : float
        The radius.
    status : pandas.DataFrame
        From :func:`lipviz.viz.compute.first_layer_status`.
    extent : tuple of float
        ``(xmin, xmax, ymin, ymax)`` of the plot.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (``figsize=(5.5, 5)``) when omitted.
    resolution : int
        Grid size of the decision regions.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    from matplotlib.patches import Circle

    from ...exact.planar import decision_grid

    ax = axes_or_new(ax, figsize=(5.5, 5))
    xs, ys, pred, _ = decision_grid(model, extent, resolution)
    ax.contourf(xs, ys, pred, alpha=0.15, cmap="coolwarm")
    u = np.linspace(extent[0], extent[1], 2)
    for row in status.itertuples():
        (w0, w1), b = row.w, row.b
        color, lw = ("#d62728", 1.2) if row.fixed else ("#7f7f7f", 0.8)
        if abs(w1) > 1e-12:
            ax.plot(u, -(w0 * u + b) / w1, color=color, lw=lw)
        else:
            ax.axvline(-b / w0, color=color, lw=lw)
    x0, x1 = float(x[0]), float(x[1])
    ax.add_patch(Circle((x0, x1), eps, fill=False, ec="k", lw=2))
    ax.plot(x0, x1, "k.")
    ax.set(xlim=extent[:2], ylim=extent[2:], aspect="equal", xlabel="x1", ylabel="x2")
    n_fixed = int(status.fixed.sum())
    ax.set_title(
        f"{n_fixed} of {len(status)} first-layer neurons fixed on the ball (red)", fontsize=10
    )
    return ax


def plot_local_vs_global(model, points, table, extent, ax=None, resolution: int = 200):
    """Global and sound local certified balls around the same 2-D points.

    Parameters
    ----------
    model : nn.Module
        A classifier on 2-D inputs.
    points : array-like
        The points, shape ``(N, 2)``.
    table : pandas.DataFrame
        From :func:`lipviz.viz.compute.local_vs_global_radii`.
    extent : tuple of float
        ``(xmin, xmax, ymin, ymax)`` of the plot.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (``figsize=(6, 6)``) when omitted.
    resolution : int
        Grid size of the decision regions.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    from matplotlib.patches import Circle

    from ...exact.planar import decision_grid

    ax = axes_or_new(ax)
    xs, ys, pred, _ = decision_grid(model, extent, resolution)
    ax.contourf(xs, ys, pred, alpha=0.15, cmap="coolwarm")
    pts = np.asarray(points, dtype=float)
    for (px, py), local, glob in zip(pts, table["local"], table["global"], strict=True):
        ax.add_patch(Circle((px, py), local, fill=False, ec="#2ca02c", lw=1.5))
        ax.add_patch(Circle((px, py), glob, fill=False, ec="#1f77b4", lw=1.5, ls="--"))
    ax.plot(pts[:, 0], pts[:, 1], "k.")
    ax.plot([], [], color="#2ca02c", label="local (sound)")
    ax.plot([], [], color="#1f77b4", ls="--", label="global")
    ax.set(xlim=extent[:2], ylim=extent[2:], aspect="equal", xlabel="x1", ylabel="x2")
    ax.legend(loc="upper right")
    return ax
