"""The static figures of bounds, layers and points (each takes an optional ``ax`` and returns it);
exported by :mod:`lipviz.viz.static`, the package's door, with the other static figures."""

from __future__ import annotations

import numpy as np

from ...exact.planar import decision_grid
from ..axes import CLASS_COLORS, axes_or_new

__all__ = [
    "plot_estimators",
    "plot_lmt_profile",
    "plot_looseness",
    "plot_margins2d",
    "plot_point_certificate",
    "plot_power_iteration",
    "plot_soc_terms",
    "plot_tightness",
]


def plot_margins2d(result, ax=None, resolution: int | None = None):
    """Decision regions, certified balls (solid) and true distances to the boundary (dashed).

    ``result`` is a :class:`lipviz.experiments.Margins2DResult`.

    Draws the two-class decision regions and boundary of ``result.model`` on a grid over
    ``result.train.extent()``, the training points (faint), and for each row of
    ``result.table`` a filled disc of radius ``certified_radius`` and, where finite, a dashed
    circle of radius ``true_distance``, coloured by the predicted class.

    Parameters
    ----------
    result : lipviz.experiments.Margins2DResult
        Uses ``model``, ``train`` (a 2-D toy dataset), ``bound.value`` (shown in the title),
        ``config.grid_resolution`` and ``table`` (columns ``x0``, ``x1``, ``predicted``,
        ``certified_radius``, ``true_distance``).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (``figsize=(6, 6)``) when omitted.
    resolution : int, optional
        Grid points per axis of the decision map; ``result.config.grid_resolution`` when
        omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on (``ax``, or the new one).
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Circle

    ax = axes_or_new(ax)
    res = resolution or result.config.grid_resolution
    extent = result.train.extent()
    xs, ys, pred, margin = decision_grid(result.model, extent, res)
    cmap = ListedColormap(["#dbe9f6", "#f9dcdc"])
    ax.contourf(xs, ys, pred.numpy(), levels=[-0.5, 0.5, 1.5], cmap=cmap)
    ax.contour(xs, ys, pred.numpy(), levels=[0.5], colors="k", linewidths=1.2)
    tx, ty = result.train.x.numpy(), result.train.y.numpy()
    for c in np.unique(ty):
        ax.scatter(*tx[ty == c].T, s=6, alpha=0.25, color=CLASS_COLORS[c])
    t = result.table
    for row in t.itertuples():
        color = CLASS_COLORS[int(row.predicted)]
        ax.add_patch(Circle((row.x0, row.x1), row.certified_radius, fc=color, alpha=0.35, ec=color))
        if np.isfinite(row.true_distance):
            ax.add_patch(
                Circle((row.x0, row.x1), row.true_distance, fill=False, ec="k", ls="--", lw=0.6)
            )
    ax.scatter(
        t.x0, t.x1, s=12, c=[CLASS_COLORS[int(p)] for p in t.predicted], edgecolors="k", lw=0.5
    )
    ax.set(xlim=extent[:2], ylim=extent[2:], aspect="equal", xlabel="$x_0$", ylabel="$x_1$")
    ax.set_title(f"certified balls (L = {result.bound.value:.3f}) vs true distance (dashed)")
    return ax


def plot_tightness(table, ax=None, true_col: str = "true_distance", label: str | None = None):
    """Certified radius against the true (or attack) distance to the boundary, with y = x.

    A sound certificate never lies above the red line y = x; the closer to it, the tighter.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per point, with the columns ``certified_radius`` and ``true_col``; rows with a
        non-finite distance are not drawn.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (``figsize=(5, 5)``) when omitted.
    true_col : str
        The distance column (x axis), e.g. ``"true_distance"`` or ``"attack_distance"``.
    label : str, optional
        Legend label of the scatter.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on (``ax``, or the new one).
    """
    ax = axes_or_new(ax, figsize=(5, 5))
    true = np.asarray(table[true_col], dtype=float)
    cert = np.asarray(table["certified_radius"], dtype=float)
    ok = np.isfinite(true)
    ax.scatter(true[ok], cert[ok], s=14, label=label)
    top = float(np.nanmax(true[ok])) if ok.any() else 1.0
    ax.plot([0, top], [0, top], color="#d62728", lw=1, label="certified = true (tight)")
    xlabel = "true distance to the boundary" if true_col == "true_distance" else true_col
    ax.set(xlabel=xlabel, ylabel="certified radius", xlim=(0, None), ylim=(0, None))
    ax.legend(loc="upper left")
    return ax


def plot_estimators(table, ax=None):
    """Horizontal bars of a :func:`lipviz.bounds.compare_estimators` table, relative to exact.

    Sound bounds are green, estimates orange; the line at 1 is the exact norm.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`~lipviz.bounds.compare_estimators` table: columns ``method`` (the bar labels),
        ``sound`` (bool, the colour) and ``ratio`` (value / exact, the bar length); the row of
        the exact value itself is left out.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (``figsize=(7, 0.45 * len(table) + 1)``) when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on (``ax``, or the new one).
    """
    ax = axes_or_new(ax, figsize=(7, 0.45 * len(table) + 1))
    t = table[table["method"] != "exact (dense Jacobian SVD)"]
    colors = ["#2ca02c" if s else "#ff7f0e" for s in t["sound"]]
    ax.barh(range(len(t)), t["ratio"], color=colors)
    ax.set_yticks(range(len(t)), t["method"])
    ax.axvline(1.0, color="k", lw=1)
    ax.invert_yaxis()
    ax.set_xlabel("value / exact norm  (green: sound bound, orange: estimate)")
    return ax


def plot_looseness(local_norms, bound: float, ax=None):
    r"""Histogram of local Jacobian norms (lower bounds on Lip) against a global upper bound.

    Every value sits below the red line, since
    :math:`\|J_f(x)\|_2 \le \mathrm{Lip}(f) \le` ``bound``; the gap between the largest one
    (dashed) and the red line is how loose the bound can be, at most.

    Parameters
    ----------
    local_norms : array-like
        Shape ``(N,)``: :math:`\|J_f(x)\|_2` (or an under-estimate of it) at each input, e.g.
        from :func:`lipviz.exact.jacobian.local_jacobian_norms`.
    bound : float
        The sound global Lipschitz bound.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (``figsize=(7, 3.5)``) when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on (``ax``, or the new one).
    """
    ax = axes_or_new(ax, figsize=(7, 3.5))
    values = np.asarray(local_norms, dtype=float)
    ax.hist(values, bins=30, color="#1f77b4", alpha=0.8, label="||J_f(x)|| on data (lower bounds)")
    ax.axvline(values.max(), color="#1f77b4", ls="--", lw=1)
    ax.axvline(bound, color="#d62728", lw=2, label=f"sound product bound = {bound:.3g}")
    ax.set_xlabel("Lipschitz constant")
    ax.set_ylabel("inputs")
    ax.legend(loc="upper right")
    return ax


def plot_power_iteration(trace, steps: int, ax=None):
    """Power-iteration estimates by step, the exact norm and the sound bound.

    Parameters
    ----------
    trace : pandas.DataFrame
        A :func:`lipviz.viz.compute.power_iteration_trace` frame (columns ``n_iter``,
        ``estimate``, ``exact``, ``sound``; row ``k - 1`` is step ``k``).
    steps : int
        The step to mark, from 1 to ``len(trace)``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (``figsize=(6.5, 3.8)``) when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on (``ax``, or the new one).
    """
    ax = axes_or_new(ax, figsize=(6.5, 3.8))
    ax.plot(trace.n_iter, trace.estimate, label="estimate (never above exact)")
    ax.plot(trace.n_iter, trace.exact, ":", color="k", label="exact (dense SVD)")
    ax.plot(trace.n_iter, trace.sound, color="#2ca02c", label="sound bound")
    row = trace.iloc[steps - 1]
    step_word = "step" if steps == 1 else "steps"
    ax.plot([steps], [row.estimate], "o", color="#d62728", ms=8, label=f"after {steps} {step_word}")
    ax.set(xlabel="power-iteration steps", ylabel="operator norm")
    ax.legend()
    return ax


def plot_soc_terms(table, terms: int, ax=None):
    """Exact largest singular value and the sound bound of an SOC layer against the terms K.

    Both are drawn as their excess over 1, on a log scale.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`lipviz.exact.jacobian.truncation_table` frame (columns ``terms``,
        ``sigma_max``, ``bound``).
    terms : int
        The number of terms K to mark with a vertical line.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (``figsize=(6.5, 3.8)``) when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on (``ax``, or the new one).
    """
    ax = axes_or_new(ax, figsize=(6.5, 3.8))
    ax.semilogy(table.terms, table.sigma_max - 1 + 1e-16, "o-", label="exact σ_max − 1")
    ax.semilogy(table.terms, table.bound - 1, "s--", label="sound bound − 1")
    ax.axvline(terms, color="gray", lw=1)
    ax.set(xlabel="highest power K", ylabel="excess over 1")
    ax.legend()
    return ax


def plot_lmt_profile(profile, radii, c: float, ax=None):
    """The fraction of inputs meeting LMT's margin at each c, over the radius histogram.

    Parameters
    ----------
    profile : pandas.DataFrame
        A :func:`lipviz.viz.compute.lmt_c_profile` frame (columns ``c`` and ``fraction_met``,
        drawn in %).
    radii : array-like
        Shape ``(N,)``: certified radii, 0 for misclassified inputs
        (:func:`lipviz.viz.compute.correct_radii`); the positive ones are binned (40 bins),
        each bin as a % of all ``N`` inputs.
    c : float
        The LMT parameter c to mark with a vertical line.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (``figsize=(6.5, 3.8)``) when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on (``ax``, or the new one).
    """
    ax = axes_or_new(ax, figsize=(6.5, 3.8))
    r = np.asarray(radii, dtype=float)
    ax.hist(
        r[r > 0],
        bins=40,
        weights=np.full(int((r > 0).sum()), 100 / len(r)),
        alpha=0.4,
        label="certified radii (% per bin)",
    )
    ax.plot(profile.c, 100 * profile.fraction_met, label="meet the LMT margin at c (%)")
    ax.axvline(c, color="k", lw=1.2)
    ax.set(xlabel="c (= the radius LMT asks for)", ylabel="% of inputs")
    ax.legend()
    return ax


def plot_point_certificate(grid, state, ax=None):
    """A 2-D decision map, one point, its certified ball and its true boundary distance.

    Parameters
    ----------
    grid : tuple
        ``(xs, ys, pred)`` of a two-class decision map, as the first three outputs of
        :func:`lipviz.exact.planar.decision_grid`: ``xs`` of shape ``(W,)``, ``ys`` of shape
        ``(H,)``, predicted classes ``pred`` of shape ``(H, W)``.
    state : dict
        A :func:`lipviz.viz.compute.point_certificate` result (keys ``x``, ``y``,
        ``certified_radius``, ``true_distance`` are used).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (``figsize=(5.5, 5.5)``) when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on (``ax``, or the new one).
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Circle

    ax = axes_or_new(ax, figsize=(5.5, 5.5))
    xs, ys, pred = (np.asarray(v) for v in grid)
    ax.pcolormesh(xs, ys, pred, cmap=ListedColormap(["#dbe9f6", "#f9dcdc"]), shading="auto")
    center = (state["x"], state["y"])
    ax.add_patch(
        Circle(
            center,
            state["certified_radius"],
            color="#2ca02c",
            alpha=0.5,
            label=f"certified {state['certified_radius']:.3f}",
        )
    )
    ax.add_patch(
        Circle(
            center,
            state["true_distance"],
            fill=False,
            ls="--",
            color="k",
            label=f"true distance {state['true_distance']:.3f}",
        )
    )
    ax.plot(*center, "ko", ms=4)
    ax.set_aspect("equal")
    ax.legend(loc="upper right")
    return ax
