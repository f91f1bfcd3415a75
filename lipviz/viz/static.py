"""matplotlib figures for the built book (each takes an optional ``ax`` and returns it)."""

from __future__ import annotations

import numpy as np

from ..planar import decision_grid

__all__ = [
    "plot_certified_accuracy",
    "plot_estimators",
    "plot_history",
    "plot_image_grid",
    "plot_looseness",
    "plot_margins2d",
    "plot_tightness",
]

CLASS_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


def _ax(ax, figsize=(6, 6)):
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_margins2d(result, ax=None, resolution: int | None = None):
    """Decision regions, certified balls (solid) and true distances to the boundary (dashed).

    ``result`` is a :class:`lipviz.experiments.Margins2DResult`.
    """
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Circle

    ax = _ax(ax)
    res = resolution or result.config.grid_resolution
    bounds = result.train.bounds()
    xs, ys, pred, margin = decision_grid(result.model, bounds, res)
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
    ax.set(xlim=bounds[:2], ylim=bounds[2:], aspect="equal", xlabel="$x_0$", ylabel="$x_1$")
    ax.set_title(f"certified balls (L = {result.bound.value:.3f}) vs true distance (dashed)")
    return ax


def plot_tightness(table, ax=None, true_col: str = "true_distance", label: str | None = None):
    """Certified radius against the true (or attack) distance to the boundary, with y = x."""
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
    """The first ``n`` images of an image dataset with their class names."""
    import matplotlib.pyplot as plt

    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.5 * nrows))
    for i, axi in enumerate(np.atleast_1d(axes).flat):
        axi.axis("off")
        if i >= min(n, len(dataset)):
            continue
        img = dataset.x[i].permute(1, 2, 0).numpy()
        axi.imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=1)
        axi.set_title(dataset.classes[int(dataset.y[i])], fontsize=8)
    fig.suptitle(dataset.label, fontsize=10)
    return fig


def plot_estimators(table, ax=None):
    """Horizontal bars of a :func:`lipviz.bounds.compare_estimators` table, relative to exact.

    Sound bounds are green, estimates orange; the line at 1 is the exact norm.
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
    """Histogram of local Jacobian norms (lower bounds on Lip) against a global upper bound."""
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
    ``label`` or ``method`` column)."""
    ax = _ax(ax, figsize=(6.5, 4))
    for t in tables:
        label = t["label"].iloc[0] if "label" in t else t["method"].iloc[0]
        ax.plot(t["eps"], 100 * t["certified_accuracy"], marker="o", label=label)
    ax.set(xlabel="l2 radius ε (input units)", ylabel="certified accuracy (%)", ylim=(0, 100))
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def plot_history(histories: dict, column: str, ax=None, ylabel: str | None = None):
    """One line per run of a metrics column against the epoch (``histories``: label -> frame)."""
    ax = _ax(ax, figsize=(6, 3.5))
    for label, h in histories.items():
        ax.plot(h["epoch"], h[column], marker=".", label=label)
    ax.set(xlabel="epoch", ylabel=ylabel or column)
    ax.grid(alpha=0.3)
    ax.legend()
    return ax
