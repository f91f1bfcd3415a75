"""matplotlib figures for the built book (each takes an optional ``ax`` and returns it)."""

from __future__ import annotations

import numpy as np

from ..exact.planar import decision_grid

__all__ = [
    "plot_accuracy_vs_eps",
    "plot_certified_accuracy",
    "plot_estimators",
    "plot_history",
    "plot_image_grid",
    "plot_lmt_profile",
    "plot_looseness",
    "plot_margins2d",
    "plot_point_certificate",
    "plot_power_iteration",
    "plot_radius_histograms",
    "plot_soc_terms",
    "plot_spectra",
    "plot_tightness",
    "plot_training",
]

CLASS_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


def _ax(ax, figsize=(6, 6)):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


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

    ax = _ax(ax)
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
    ax = _ax(ax, figsize=(5, 5))
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


def plot_image_grid(dataset, n: int = 16, ncols: int = 8, ax=None):
    """The first ``n`` images of an image dataset with their class names.

    Parameters
    ----------
    dataset : lipviz.data.ImageDataset
        Uses ``x`` (shape ``(N, C, H, W)``, values in [0, 1]; one channel is shown in grey),
        ``y`` (shape ``(N,)``), ``classes`` (the titles) and ``label`` (the figure title).
    n : int
        Number of images (at most ``len(dataset)`` are drawn).
    ncols : int
        Images per row; the grid has ``ceil(n / ncols)`` rows.
    ax : None
        Ignored: the grid always gets a new figure, 7 inches wide (the book's column), with
        rows as tall as the cells are wide plus room for the titles.

    Returns
    -------
    matplotlib.figure.Figure
        The new figure (one axis per grid cell).
    """
    import matplotlib.pyplot as plt

    nrows = -(-n // ncols)
    cell = 7.0 / ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(7.0, (cell + 0.3) * nrows + 0.4),
                             layout="constrained")  # fmt: skip
    for i, axi in enumerate(np.atleast_1d(axes).flat):
        axi.axis("off")
        if i >= min(n, len(dataset)):
            continue
        img = dataset.x[i].permute(1, 2, 0).numpy()
        axi.imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
        axi.set_title(dataset.classes[int(dataset.y[i])], fontsize=10)
    fig.suptitle(dataset.label, fontsize=11)
    return fig


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
    ax = _ax(ax, figsize=(7, 0.45 * len(table) + 1))
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
    ax = _ax(ax, figsize=(7, 3.5))
    values = np.asarray(local_norms, dtype=float)
    ax.hist(values, bins=30, color="#1f77b4", alpha=0.8, label="||J_f(x)|| on data (lower bounds)")
    ax.axvline(values.max(), color="#1f77b4", ls="--", lw=1)
    ax.axvline(bound, color="#d62728", lw=2, label=f"sound product bound = {bound:.3g}")
    ax.set_xlabel("Lipschitz constant")
    ax.set_ylabel("inputs")
    ax.legend(loc="upper right")
    return ax


def plot_certified_accuracy(tables, ax=None):
    """Certified accuracy against ε, one line per table (columns eps, certified_accuracy and a
    ``label`` or ``method`` column).

    Parameters
    ----------
    tables : iterable of pandas.DataFrame
        Each with the columns ``eps``, ``certified_accuracy`` (a fraction in [0, 1], drawn in
        %) and ``label`` or else ``method`` (its first value names the line).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (``figsize=(6.5, 4)``) when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on (``ax``, or the new one).
    """
    ax = _ax(ax, figsize=(6.5, 4))
    for t in tables:
        label = t["label"].iloc[0] if "label" in t else t["method"].iloc[0]
        ax.plot(t["eps"], 100 * t["certified_accuracy"], marker="o", label=label)
    ax.set(xlabel="l2 radius ε (input units)", ylabel="certified accuracy (%)", ylim=(0, 100))
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def plot_history(histories: dict, column: str, ax=None, ylabel: str | None = None):
    """One line per run of a metrics column against the epoch (``histories``: label -> frame).

    Parameters
    ----------
    histories : dict
        Maps a label to a training history (pandas.DataFrame) with the columns ``epoch`` and
        ``column``, e.g. ``FitResult.history``.
    column : str
        The metric to draw, e.g. ``"val_acc"``.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (``figsize=(6, 3.5)``) when omitted.
    ylabel : str, optional
        The y-axis label; ``column`` when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on (``ax``, or the new one).
    """
    ax = _ax(ax, figsize=(6, 3.5))
    for label, h in histories.items():
        ax.plot(h["epoch"], h[column], marker=".", label=label)
    ax.set(xlabel="epoch", ylabel=ylabel or column)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


# --- static fallbacks of the live explorers (lipviz.viz.widgets) -----------------------------


def plot_spectra(spectra: dict, log: bool = True, ax=None):
    """Singular values per layer (``layer_spectra`` frames), one colour per model.

    Layers are placed in order of their ``layer`` index, each model's points jittered
    (a fixed seed) and shifted slightly; the dotted line marks 1.

    Parameters
    ----------
    spectra : dict
        Maps a label to a :func:`lipviz.viz.compute.layer_spectra` frame (columns ``layer``
        and ``sigma``).
    log : bool
        A logarithmic y axis (otherwise linear).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (``figsize=(7, 3.8)``) when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on (``ax``, or the new one).
    """
    ax = _ax(ax, figsize=(7, 3.8))
    rng = np.random.default_rng(0)
    for i, (label, s) in enumerate(spectra.items()):
        pos = s.layer.rank(method="dense").to_numpy() - 1
        ax.scatter(pos + rng.uniform(-0.3, 0.3, len(s)) + 0.1 * i, s.sigma, s=3, alpha=0.6,
                   label=label, color=CLASS_COLORS[i % len(CLASS_COLORS)])  # fmt: skip
    ax.axhline(1.0, color="k", lw=0.8, ls=":")
    ax.set(xlabel="layer (in order)", ylabel="singular value", yscale="log" if log else "linear")
    ax.legend(markerscale=4)
    return ax


def plot_radius_histograms(radii: dict, eps: float, ax=None):
    """Overlaid certified-radius histograms (correct inputs) with an ε marker.

    Only positive radii are binned (40 bins from 0 to the largest radius); each legend entry
    gives the fraction of *all* inputs with a radius greater than ``eps`` (a radius equal to
    ``eps`` is not certified: a tie can flip the argmax).

    Parameters
    ----------
    radii : dict
        Maps a label to array-like radii of shape ``(N,)``, 0 for misclassified inputs
        (:func:`lipviz.viz.compute.correct_radii`).
    eps : float
        The radius ε to mark, in input units.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (``figsize=(6.5, 3.8)``) when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on (``ax``, or the new one).
    """
    ax = _ax(ax, figsize=(6.5, 3.8))
    top = max(float(np.max(r)) for r in radii.values()) or 1.0
    bins = np.linspace(0, top, 41)
    for i, (label, r) in enumerate(radii.items()):
        r = np.asarray(r, dtype=float)
        frac = float(np.mean(r > eps))  # strictly: a radius equal to ε may tie
        ax.hist(r[r > 0], bins=bins, alpha=0.5, color=CLASS_COLORS[i % len(CLASS_COLORS)],
                label=f"{label}: {100 * frac:.1f}% certified at ε")  # fmt: skip
    ax.axvline(eps, color="k", lw=1.5)
    ax.set(xlabel="certified radius (input units)", ylabel="inputs", title=f"ε = {eps:.3g}")
    ax.legend()
    return ax


def plot_accuracy_vs_eps(tables: dict, eps: float | None = None, ax=None):
    """Clean (dotted), empirical PGD (dashed) and certified (solid) accuracy against ε.

    Two legends sit beside the axes, where they cover no curve: one colour per model, one
    line style per kind of accuracy.

    Parameters
    ----------
    tables : dict
        Maps a label to a :func:`lipviz.viz.compute.accuracy_vs_eps` frame (columns ``eps``,
        ``clean``, ``empirical``, ``certified``, fractions drawn in %); one colour per label.
    eps : float, optional
        An ε to mark with a vertical line.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (``figsize=(7, 4)``) when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on (``ax``, or the new one).
    """
    from matplotlib.lines import Line2D

    ax = _ax(ax, figsize=(7, 4))
    styles = {"clean": ":", "empirical": "--", "certified": "-"}
    models = []
    for i, (label, t) in enumerate(tables.items()):
        color = CLASS_COLORS[i % len(CLASS_COLORS)]
        for kind, ls in styles.items():
            ax.plot(t["eps"], 100 * t[kind], ls=ls, color=color)
        models.append(Line2D([], [], color=color, lw=3, label=label))
    if eps is not None:
        ax.axvline(eps, color="gray", lw=1)
    ax.set(xlabel="l2 radius ε (input units)", ylabel="accuracy (%)", ylim=(0, 100))
    ax.grid(alpha=0.3)
    kinds = [Line2D([], [], color="black", ls=ls, label=k) for k, ls in styles.items()]
    first = ax.legend(handles=models, title="model", loc="upper left", bbox_to_anchor=(1.02, 1))
    ax.add_artist(first)
    ax.legend(handles=kinds, title="accuracy", loc="lower left", bbox_to_anchor=(1.02, 0))
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
    ax = _ax(ax, figsize=(6.5, 3.8))
    ax.plot(trace.n_iter, trace.estimate, label="estimate (never above exact)")
    ax.plot(trace.n_iter, trace.exact, ":", color="k", label="exact (dense SVD)")
    ax.plot(trace.n_iter, trace.sound, color="#2ca02c", label="sound bound")
    row = trace.iloc[steps - 1]
    step_word = "step" if steps == 1 else "steps"
    ax.plot([steps], [row.estimate], "o", color="#d62728", ms=8,
            label=f"after {steps} {step_word}")  # fmt: skip
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
    ax = _ax(ax, figsize=(6.5, 3.8))
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
    ax = _ax(ax, figsize=(6.5, 3.8))
    r = np.asarray(radii, dtype=float)
    ax.hist(r[r > 0], bins=40, weights=np.full(int((r > 0).sum()), 100 / len(r)), alpha=0.4,
            label="certified radii (% per bin)")  # fmt: skip
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

    ax = _ax(ax, figsize=(5.5, 5.5))
    xs, ys, pred = (np.asarray(v) for v in grid)
    ax.pcolormesh(xs, ys, pred, cmap=ListedColormap(["#dbe9f6", "#f9dcdc"]), shading="auto")
    center = (state["x"], state["y"])
    ax.add_patch(Circle(center, state["certified_radius"], color="#2ca02c", alpha=0.5,
                        label=f"certified {state['certified_radius']:.3f}"))  # fmt: skip
    ax.add_patch(Circle(center, state["true_distance"], fill=False, ls="--", color="k",
                        label=f"true distance {state['true_distance']:.3f}"))  # fmt: skip
    ax.plot(*center, "ko", ms=4)
    ax.set_aspect("equal")
    ax.legend(loc="upper right")
    return ax


def plot_training(history, panels, axes=None):
    """Training curves: one panel per (title, columns) pair.

    Parameters
    ----------
    history : pandas.DataFrame
        One row per epoch, with an ``epoch`` column and the metric columns; columns a panel
        names but ``history`` lacks are skipped.
    panels : sequence of (str, sequence of str)
        ``(title, columns)`` for each panel, e.g. ``[("loss", ["loss"])]``.
    axes : sequence of matplotlib.axes.Axes, optional
        One per panel; a new row of ``len(panels)`` subplots of size
        ``(5 * len(panels), 3.2)`` when omitted.

    Returns
    -------
    matplotlib.axes.Axes or numpy.ndarray of Axes
        ``axes``, or the new subplots (a single Axes when there is one panel).

    Raises
    ------
    ValueError
        If the number of axes differs from the number of panels.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.2))
    for ax, (title, columns) in zip(np.atleast_1d(axes), panels, strict=True):
        for col in columns:
            if col in history:
                ax.plot(history["epoch"], history[col], marker=".", label=col)
        ax.set(title=title, xlabel="epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    return axes
