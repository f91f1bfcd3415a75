"""matplotlib figures of datasets, trained models and runs: image grids, training histories,
spectra, radius histograms and certified accuracy against ε (each takes an optional ``ax``
and returns it; exported by :mod:`lipviz.viz.static`)."""

from __future__ import annotations

import numpy as np

from ..axes import CLASS_COLORS, axes_or_new

__all__ = [
    "plot_accuracy_vs_eps",
    "plot_certified_accuracy",
    "plot_history",
    "plot_image_grid",
    "plot_radius_histograms",
    "plot_spectra",
    "plot_training",
]


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
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(7.0, (cell + 0.3) * nrows + 0.4), layout="constrained"
    )
    for i, axi in enumerate(np.atleast_1d(axes).flat):
        axi.axis("off")
        if i >= min(n, len(dataset)):
            continue
        img = dataset.x[i].permute(1, 2, 0).numpy()
        axi.imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
        axi.set_title(dataset.classes[int(dataset.y[i])], fontsize=10)
    fig.suptitle(dataset.label, fontsize=11)
    return fig


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
    ax = axes_or_new(ax, figsize=(6.5, 4))
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
    ax = axes_or_new(ax, figsize=(6, 3.5))
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
    ax = axes_or_new(ax, figsize=(7, 3.8))
    rng = np.random.default_rng(0)
    for i, (label, s) in enumerate(spectra.items()):
        pos = s.layer.rank(method="dense").to_numpy() - 1
        ax.scatter(
            pos + rng.uniform(-0.3, 0.3, len(s)) + 0.1 * i,
            s.sigma,
            s=3,
            alpha=0.6,
            label=label,
            color=CLASS_COLORS[i % len(CLASS_COLORS)],
        )
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
    ax = axes_or_new(ax, figsize=(6.5, 3.8))
    top = max(float(np.max(r)) for r in radii.values()) or 1.0
    bins = np.linspace(0, top, 41)
    for i, (label, r) in enumerate(radii.items()):
        r = np.asarray(r, dtype=float)
        frac = float(np.mean(r > eps))  # strictly: a radius equal to ε may tie
        ax.hist(
            r[r > 0],
            bins=bins,
            alpha=0.5,
            color=CLASS_COLORS[i % len(CLASS_COLORS)],
            label=f"{label}: {100 * frac:.1f}% certified at ε",
        )
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

    ax = axes_or_new(ax, figsize=(7, 4))
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
