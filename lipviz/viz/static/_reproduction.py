"""Reproduction results in a matplotlib figure: ours beside the papers' numbers (the data come
from :func:`lipviz.batch.batch_report`)."""

from __future__ import annotations

import numpy as np

from ..axes import axes_or_new

__all__ = ["plot_reproduction"]

_COLOURS = {"reproduced": "#2ca02c", "above": "#1f77b4", "below": "#d62728", "not run": "#bbbbbb"}


def plot_reproduction(table, ax=None):
    """Paired bars per job with a paper value: the paper's number (hatched) and ours, coloured by
    the verdict (reproduced, above, below; grey when not run).

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`lipviz.batch.batch_report` (columns ``job``, ``paper``, ``ours``,
        ``paper_metric``, ``eps`` and ``verdict``).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure when omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on.
    """
    rows = table[table.paper.notna()].reset_index(drop=True)
    ax = axes_or_new(ax, figsize=(max(5.0, 1.3 * len(rows) + 2), 3.8))
    x = np.arange(len(rows))
    ax.bar(
        x - 0.2,
        100 * rows.paper.astype(float),
        0.4,
        color="white",
        edgecolor="black",
        hatch="//",
        label="paper",
    )
    ours = 100 * rows.ours.astype(float).fillna(0.0)
    colours = [_COLOURS.get(v, "#bbbbbb") for v in rows.verdict]
    ax.bar(x + 0.2, ours, 0.4, color=colours, edgecolor="black", label="ours")
    for i, row in rows.iterrows():
        if row.verdict == "not run":
            ax.text(i + 0.2, 1, "not run", rotation=90, ha="center", va="bottom")
    labels = [
        f"{r.job}\n{r.paper_metric.split('_')[0]}"
        + ("" if r.eps is None or np.isnan(r.eps) else f" ε={r.eps:.3g}")
        for r in rows.itertuples()
    ]
    ax.set_xticks(x, labels, rotation=15, ha="right", rotation_mode="anchor")
    ax.set(ylabel="accuracy (%)", ylim=(0, 100), title="ours against the papers")
    ax.legend(loc="upper right")
    return ax.figure
