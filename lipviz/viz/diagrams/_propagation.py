r"""Diagrams of the chapter on bound propagation: the ReLU's triangle relaxation.

On an input interval :math:`[l, u]` with :math:`l < 0 < u`, the graph of the ReLU is two
segments, and its convex hull is the triangle with vertices :math:`(l, 0)`, :math:`(0, 0)` and
:math:`(u, u)`. Its top side is the chord :math:`\frac{u}{u-l}(z - l)`, the one upper bound
every linear relaxation uses; a linear *lower* bound :math:`\alpha z` is valid for every
:math:`\alpha \in [0, 1]`. Between the chord and :math:`\alpha = 0` lies the triangle
:math:`(l, 0), (u, 0), (u, u)` of area :math:`\frac12 (u - l)\, u`; between the chord and
:math:`\alpha = 1` the triangle :math:`(l, l), (l, 0), (u, u)` of area
:math:`\frac12 (u - l)(-l)`. CROWN takes the smaller: :math:`\alpha = 1` when :math:`u \ge -l`
(:mod:`lipviz.bounds.propagation`).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["plot_relu_relaxation", "relu_relaxation"]


def relu_relaxation(lo: float, hi: float) -> dict:
    r"""The triangle relaxation of the ReLU on :math:`[l, u]`, and CROWN's lower line.

    Parameters
    ----------
    lo, hi : float
        :math:`l < 0 < u`.

    Returns
    -------
    dict
        ``upper_slope`` :math:`u/(u-l)`, ``upper_intercept`` :math:`-lu/(u-l)`,
        ``hull_area`` :math:`-lu/2` (the triangle), ``area_alpha0`` and ``area_alpha1`` (the
        regions left between the chord and the lower lines :math:`0` and :math:`z`), and
        ``alpha``, CROWN's choice (the smaller region).

    Raises
    ------
    ValueError
        Unless ``lo < 0 < hi`` (a stable neuron needs no relaxation).

    Examples
    --------
    >>> r = relu_relaxation(-1.0, 2.0)
    >>> round(r["upper_slope"], 4), r["alpha"], r["area_alpha0"], r["area_alpha1"]
    (0.6667, 1.0, 3.0, 1.5)
    """
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < 0 < hi):
        msg = f"the relaxation needs lo < 0 < hi, got [{lo}, {hi}]"
        raise ValueError(msg)
    slope = hi / (hi - lo)
    area0, area1 = 0.5 * (hi - lo) * hi, 0.5 * (hi - lo) * (-lo)
    return {
        "upper_slope": slope,
        "upper_intercept": -slope * lo,
        "hull_area": -lo * hi / 2,
        "area_alpha0": area0,
        "area_alpha1": area1,
        "alpha": 1.0 if hi >= -lo else 0.0,
    }


def plot_relu_relaxation(lo: float = -1.0, hi: float = 2.0, ax=None):
    r"""Draw the ReLU on :math:`[l, u]`, its convex hull (the triangle), the upper chord and the
    two lower lines :math:`\alpha = 0` and :math:`\alpha = 1`, CROWN's choice drawn solid.

    Parameters
    ----------
    lo, hi : float
        The neuron's input bounds, :math:`l < 0 < u`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new 6 x 4 inch figure when omitted.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    r = relu_relaxation(lo, hi)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    pad = 0.15 * (hi - lo)
    z = np.linspace(lo - pad, hi + pad, 200)
    ax.plot(z, np.maximum(z, 0), color="black", lw=2, label="ReLU(z)")
    hull = np.array([[lo, 0.0], [0.0, 0.0], [hi, hi]])
    ax.fill(hull[:, 0], hull[:, 1], color="tab:blue", alpha=0.2, label="convex hull on [l, u]")
    inside = np.linspace(lo, hi, 2)
    ax.plot(
        inside,
        r["upper_slope"] * (inside - lo),
        color="tab:blue",
        lw=1.5,
        label=f"upper chord, slope u/(u-l) = {r['upper_slope']:.2f}",
    )
    for alpha, color in ((0.0, "tab:orange"), (1.0, "tab:green")):
        chosen = alpha == r["alpha"]
        area = r["area_alpha1"] if alpha else r["area_alpha0"]
        ax.plot(
            inside,
            alpha * inside,
            color=color,
            lw=1.5 if chosen else 1,
            ls="-" if chosen else "--",
            label=f"lower line {alpha:g}·z: area {area:.2f}" + (" (CROWN)" if chosen else ""),
        )
    for v, name in ((lo, "l"), (hi, "u")):
        ax.axvline(v, color="grey", lw=0.8, ls=":")
        ax.annotate(name, (v, lo - 0.05 * (hi - lo)), ha="center", va="top")
    ax.set_xlabel("pre-activation z")
    ax.set_ylabel("activation")
    ax.set_ylim(lo - 0.2 * (hi - lo), hi + pad)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(f"The triangle relaxation of a ReLU with input in [{lo:g}, {hi:g}]")
    return ax
