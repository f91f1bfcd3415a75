"""The published landscape in matplotlib: clean against certified accuracy of Lipschitz
networks (data from :func:`lipviz.batch.landscape_table`), and the MNIST ladder with lipviz's own
runs beside it (:func:`lipviz.batch.mnist_ladder`)."""

from __future__ import annotations

import numpy as np

from ..axes import axes_or_new

__all__ = ["plot_landscape", "plot_mnist_ladder"]

_MARKERS = {
    "orthogonal layers": "o",
    "Lipschitz-bounded layers": "s",
    "Lipschitz margin training": "^",
    "local Lipschitz / bound propagation": "D",
    "convex relaxation": "v",
}
_COLOURS = {
    "orthogonal layers": "#1f77b4",
    "Lipschitz-bounded layers": "#ff7f0e",
    "Lipschitz margin training": "#2ca02c",
    "local Lipschitz / bound propagation": "#9467bd",
    "convex relaxation": "#8c564b",
}


def plot_landscape(table, ax=None, eps_column: str = "cra_36"):
    """Clean against certified accuracy, one marker per published model.

    Marker shape and colour give the family; hollow markers were trained with extra generated
    data. Rows without a clean accuracy cannot be placed and are left out (the table keeps them).

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`lipviz.batch.landscape_table` (one dataset).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.
    eps_column : str
        The certified-accuracy column on the vertical axis.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from lipviz.batch import landscape_table
    >>> fig = plot_landscape(landscape_table("CIFAR-10"))
    >>> len(fig.axes[0].collections) > 0
    True
    """
    ax = axes_or_new(ax, figsize=(7.0, 4.6))
    rows = table[table["clean"].notna() & table[eps_column].notna()]
    for family, group in rows.groupby("family"):
        colour = _COLOURS.get(family, "#555555")
        for extra, part in group.groupby("extra_data"):
            label = family + (" (+ generated data)" if extra else "")
            ax.scatter(
                part["clean"],
                part[eps_column],
                s=55,
                marker=_MARKERS.get(family, "o"),
                facecolors="none" if extra else colour,
                edgecolors=colour,
                linewidths=1.5,
                label=label,
            )
    eps = eps_column.split("_")[-1]
    ax.set(xlabel="clean accuracy (%)", ylabel=f"certified accuracy at ε = {eps}/255 (%)")
    ax.set_xlim(rows["clean"].min() - 2, rows["clean"].max() + 9)
    _label_points(ax, rows, eps_column)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="lower right")
    return ax.figure


def _label_points(ax, rows, eps_column: str) -> None:
    """Name each point, moving a label down a line while it would overlap one already placed."""
    ax.figure.canvas.draw()
    placed = []  # label boxes in display pixels
    size = 9  # points
    line = size / 72 * ax.figure.dpi  # pixels per label line
    for row in rows.sort_values(eps_column, ascending=False).itertuples():
        x, y = ax.transData.transform((row.clean, getattr(row, eps_column)))
        width = 0.63 * line * len(row.method)  # about 0.63 em per character
        right = ax.transAxes.transform((1.0, 0.0))[0]
        left = x + 4 + width > right  # no room on the right: put the label on the left
        x = x - width - 4 if left else x
        dy = 3.0
        while any(
            x < bx + bw and bx < x + width and abs((y + dy) - by) < line for bx, by, bw in placed
        ):
            dy -= line
        placed.append((x, y + dy, width))
        ax.annotate(
            row.method,
            (row.clean, getattr(row, eps_column)),
            fontsize=size,
            xytext=(-4 if left else 4, dy),
            textcoords="offset pixels",
            ha="right" if left else "left",
        )


def plot_mnist_ladder(ladder, ours=None, ax=None):
    """Published certified accuracy on MNIST at ε = 1.58 as bars, lipviz's runs beside them.

    Parameters
    ----------
    ladder : pandas.DataFrame
        From :func:`lipviz.batch.mnist_ladder`.
    ours : dict of str to float, optional
        Label to certified accuracy (%) of lipviz runs, drawn in a second colour.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from lipviz.batch import mnist_ladder
    >>> fig = plot_mnist_ladder(mnist_ladder(), {"ours": 30.0})
    >>> len(fig.axes[0].patches)
    5
    """
    ours = ours or {}
    labels = list(ladder["method"]) + list(ours)
    values = list(ladder["certified"]) + list(ours.values())
    colours = ["#7f7f7f"] * len(ladder) + ["#1f77b4"] * len(ours)
    ax = axes_or_new(ax, figsize=(7.0, 0.45 * len(labels) + 1.2))
    y = np.arange(len(labels))[::-1]
    ax.barh(y, values, color=colours, edgecolor="black")
    for yi, v in zip(y, values, strict=True):
        ax.text(v + 0.8, yi, f"{v:.2f}", va="center", fontsize=9)
    ax.set_yticks(y, labels, fontsize=9)
    ax.set(
        xlabel="certified accuracy at ε = 1.58 (%)",
        xlim=(0, 100),
        title="MNIST: published (grey) and lipviz runs (blue)",
    )
    return ax.figure
