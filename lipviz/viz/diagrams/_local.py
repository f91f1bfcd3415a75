r"""The Local-Lip chapter's diagram: two enclosures of the image of a ball and their intersection.

After an affine layer, box-constrained propagation (Lee et al., NeurIPS 2020; Huang et al.,
NeurIPS 2021) holds two boxes that both contain every pre-activation reachable from the input
ball :math:`B(x, \varepsilon)`: the IBP box and the ball's box
:math:`\mu_j \pm \rho\,\|D w_j\|_2`. Their intersection contains that image too. The picture is
most telling for two neurons on which *different* boxes are the narrower one: the intersection
is then strictly smaller than either box. :func:`contrasting_example` finds such a point and
pair of neurons among a few inputs, and :func:`plot_enclosures` draws the
:func:`lipviz.viz.compute.box_and_ball` geometry of one.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["contrasting_example", "plot_enclosures"]


def contrasting_example(model: nn.Sequential, points, eps: float, layer: int):
    r"""The first input whose layer has one neuron with the narrower IBP interval and one with
    the narrower ball interval, and the two neurons with the strongest contrast.

    For input :math:`x_n` and output neuron :math:`j` of ``model[layer]``, let
    :math:`q_j = w^{\text{IBP}}_j / w^{\text{ball}}_j` be the ratio of the two interval widths
    (from the local walk, :func:`lipviz.bounds.local.local_walk`). The returned neurons are
    :math:`\arg\min_j q_j` (IBP narrower, :math:`q < 1`) and :math:`\arg\max_j q_j` (ball
    narrower, :math:`q > 1`).

    Parameters
    ----------
    model : nn.Sequential
        A chain that local bounds support.
    points : Tensor
        Candidate inputs, shape ``(N, *input_shape)``, tried in order.
    eps : float
        The ball radius (input units).
    layer : int
        Index in ``model`` of an ``nn.Linear`` or ``nn.Conv2d``.

    Returns
    -------
    (int, (int, int))
        The index of the input in ``points`` and the two neurons (indices into the layer's
        flattened output): the first with the narrower IBP interval, the second with the
        narrower ball interval.

    Raises
    ------
    ValueError
        If ``model[layer]`` is not affine, or on every input one box is at least as narrow as
        the other on every neuron.
    """
    from ...bounds.local import local_walk

    if not isinstance(model[layer], (nn.Linear, nn.Conv2d)):
        msg = f"model[{layer}] is {type(model[layer]).__name__}; pick an nn.Linear or nn.Conv2d"
        raise ValueError(msg)
    order = [i for i, m in enumerate(model) if isinstance(m, (nn.Linear, nn.Conv2d))]
    position = order.index(layer % len(model))
    points = torch.as_tensor(points)
    for n in range(len(points)):
        _, _, st = local_walk(model, points[n : n + 1], eps, trace=True)
        entry = st.trace[position]
        ibp = (entry["ibp"][1] - entry["ibp"][0]).flatten()
        ball = (entry["ball"][1] - entry["ball"][0]).flatten()
        ratio = ibp / ball.clamp_min(1e-300)
        if (ratio < 1).any() and (ratio > 1).any():
            return n, (int(ratio.argmin()), int(ratio.argmax()))
    msg = f"on every input, one box is at least as narrow as the other on every neuron of {layer}"
    raise ValueError(msg)


def plot_enclosures(geom: dict, ax=None):
    """Two neurons of one layer on the ball: the IBP box, the ball's box, their intersection
    (filled) and the images of sampled points of the input ball.

    The intersection is filled and both outlines are drawn over it, so an outline that
    coincides with a side of the intersection stays visible. Fonts are at least 9 pt and the
    legend sits below the axes, so nothing covers the boxes.

    Parameters
    ----------
    geom : dict
        From :func:`lipviz.viz.compute.box_and_ball` (keys ``centre``, ``ibp``, ``ball``,
        ``box``, ``samples``, ``layer``, ``neurons``).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (``figsize=(6.5, 5.2)``) when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    from matplotlib.patches import Rectangle

    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6.5, 5.2))
    lo, hi = (np.asarray(v, dtype=float) for v in geom["box"])
    ax.add_patch(
        Rectangle(lo, *(hi - lo), fc="#2ca02c", alpha=0.25, ec="none", label="box ∩ ball (used)")
    )
    styles = (("ibp", "#1f77b4", "--", "IBP box"), ("ball", "#ff7f0e", ":", "ball's box"))
    for key, color, style, label in styles:
        b_lo, b_hi = (np.asarray(v, dtype=float) for v in geom[key])
        ax.add_patch(
            Rectangle(b_lo, *(b_hi - b_lo), fill=False, ec=color, ls=style, lw=2.2, label=label)
        )
    s = np.asarray(geom["samples"], dtype=float)
    ax.scatter(
        s[:, 0],
        s[:, 1],
        s=4,
        color="#555555",
        alpha=0.5,
        lw=0,
        label="images of points of the ball",
    )
    ax.plot(*geom["centre"], "k+", ms=12, mew=1.5, label="image of the centre")
    j, k = geom["neurons"]
    ax.set_xlabel(f"pre-activation of neuron {j} (layer {geom['layer']})", fontsize=10)
    ax.set_ylabel(f"pre-activation of neuron {k}", fontsize=10)
    ax.tick_params(labelsize=9)
    ax.autoscale_view()
    legend = ax.legend(
        fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False
    )
    for handle in getattr(legend, "legend_handles", getattr(legend, "legendHandles", [])):
        if hasattr(handle, "set_sizes"):  # the tiny sample dots, enlarged in the legend only
            handle.set_sizes([25])
    return ax
