"""What every static figure shares: a new constrained-layout axes when none is given, and the
class colours."""

from __future__ import annotations

__all__ = ["CLASS_COLORS", "axes_or_new"]

CLASS_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")


def axes_or_new(ax, figsize=(6, 6)):
    """``ax``, or new constrained-layout axes of ``figsize`` when ``ax`` is None.

    Parameters
    ----------
    ax : matplotlib.axes.Axes or None
        The axes to draw on.
    figsize : tuple of float
        The new figure's size in inches.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax
