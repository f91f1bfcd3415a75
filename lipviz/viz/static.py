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


# --- static fallbacks of the live explorers (lipviz.viz.widgets) -----------------------------


def plot_spectra(spectra: dict, log: bool = True, ax=None):
    """Singular values per layer (``layer_spectra`` frames), one colour per model."""
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
    """Overlaid certified-radius histograms (correct inputs) with an ε marker."""
    ax = _ax(ax, figsize=(6.5, 3.8))
    top = max(float(np.max(r)) for r in radii.values()) or 1.0
    bins = np.linspace(0, top, 41)
    for i, (label, r) in enumerate(radii.items()):
        r = np.asarray(r, dtype=float)
        frac = float(np.mean(r >= max(eps, 1e-12)))
        ax.hist(r[r > 0], bins=bins, alpha=0.5, color=CLASS_COLORS[i % len(CLASS_COLORS)],
                label=f"{label}: {100 * frac:.1f}% certified at ε")  # fmt: skip
    ax.axvline(eps, color="k", lw=1.5)
    ax.set(xlabel="certified radius (input units)", ylabel="inputs", title=f"ε = {eps:.3g}")
    ax.legend()
    return ax


def plot_accuracy_vs_eps(tables: dict, eps: float | None = None, ax=None):
    """Clean (dotted), empirical PGD (dashed) and certified (solid) accuracy against ε."""
    ax = _ax(ax, figsize=(6.5, 4))
    for i, (label, t) in enumerate(tables.items()):
        color = CLASS_COLORS[i % len(CLASS_COLORS)]
        for kind, ls in (("clean", ":"), ("empirical", "--"), ("certified", "-")):
            ax.plot(t["eps"], 100 * t[kind], ls=ls, color=color, label=f"{label}: {kind}")
    if eps is not None:
        ax.axvline(eps, color="gray", lw=1)
    ax.set(xlabel="l2 radius ε (input units)", ylabel="accuracy (%)", ylim=(0, 100))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_power_iteration(trace, steps: int, ax=None):
    """Power-iteration estimates by step, the exact norm and the sound bound."""
    ax = _ax(ax, figsize=(6.5, 3.8))
    ax.plot(trace.n_iter, trace.estimate, label="estimate (never above exact)")
    ax.plot(trace.n_iter, trace.exact, ":", color="k", label="exact (dense SVD)")
    ax.plot(trace.n_iter, trace.sound, color="#2ca02c", label="sound bound")
    row = trace.iloc[steps - 1]
    ax.plot([steps], [row.estimate], "o", color="#d62728", ms=8, label=f"{steps} steps")
    ax.set(xlabel="power-iteration steps", ylabel="operator norm")
    ax.legend()
    return ax


def plot_soc_terms(table, terms: int, ax=None):
    """Exact largest singular value and the sound bound of an SOC layer against the terms K."""
    ax = _ax(ax, figsize=(6.5, 3.8))
    ax.semilogy(table.terms, table.sigma_max - 1 + 1e-16, "o-", label="exact σ_max − 1")
    ax.semilogy(table.terms, table.bound - 1, "s--", label="sound bound − 1")
    ax.axvline(terms, color="gray", lw=1)
    ax.set(xlabel="highest power K", ylabel="excess over 1")
    ax.legend()
    return ax


def plot_lmt_profile(profile, radii, c: float, ax=None):
    """The fraction of inputs meeting LMT's margin at each c, over the radius histogram."""
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
    """A 2-D decision map, one point, its certified ball and its true boundary distance."""
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
    """Training curves: one panel per (title, columns) pair."""
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
