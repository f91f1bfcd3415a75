r"""The margins chapter's diagram: a margin, its Lipschitz cone and the certified interval.

Along a line :math:`x + s\,u` through an input :math:`x` (:math:`\|u\|_2 = 1`), the margin of
the class :math:`t` predicted at :math:`x`,

.. math:: M_t(x + s u) = f_t(x + s u) - \max_{j \ne t} f_j(x + s u),

is what decides the prediction: it is positive exactly while :math:`t` still wins. A
certificate guarantees a lower bound on it that depends only on :math:`|s|`,

.. math:: M_t(x + s u) \ge \min_{j \ne t}\big(f_t(x) - f_j(x) - s_{tj}\,|s|\big),

with the scales :math:`s_{tj}` of the certificate's form
(:func:`lipviz.functional.certificate_scales`: :math:`\sqrt2\,L` in the global form,
:math:`L_{\text{prefix}}\|w_t - w_j\|_2` in the pairwise one). That lower bound is a cone
(a tent) around :math:`s = 0`; it reaches 0 at :math:`|s| = \varepsilon(x)`, the certified
radius, so the segment :math:`|s| < \varepsilon(x)` is the certified ball's slice along
:math:`u`. :func:`margin_along_ray` and :func:`margin_lower_bound` compute the two curves and
:func:`plot_margin_cone` draws them. :func:`largest_gap_slope` measures, on a grid, how steep a
logit difference really is, to set against the slope the certificate assumes.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn

from ...certify import Certifier
from ...functional import certificate_scales

__all__ = ["largest_gap_slope", "margin_along_ray", "margin_lower_bound", "plot_margin_cone"]


def _unit(direction) -> torch.Tensor:
    u = torch.as_tensor(direction, dtype=torch.float64).flatten()
    norm = float(u.norm())
    if not np.isfinite(norm) or norm == 0.0:
        msg = "direction must be a nonzero, finite vector"
        raise ValueError(msg)
    return u / norm


def _logits(model: nn.Module, points: torch.Tensor) -> torch.Tensor:
    dtype = next(iter(model.parameters()), torch.zeros((), dtype=torch.float32)).dtype
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model(points.to(dtype)).double()
    finally:
        model.train(was_training)


def margin_along_ray(model: nn.Module, x, direction, s) -> np.ndarray:
    r"""The margin of the class predicted at ``x``, along the line ``x + s u``.

    .. math:: M_t(x + s u) = f_t(x + s u) - \max_{j \ne t} f_j(x + s u),
        \qquad t = \arg\max_j f_j(x), \quad u = \frac{\text{direction}}{\|\text{direction}\|_2}

    It is negative where another class than :math:`t` has the largest logit.

    Parameters
    ----------
    model : nn.Module
        A classifier mapping ``(B, D)`` inputs to logits ``(B, C)``, ``C >= 2`` (run in eval
        mode, without gradients; its mode is restored).
    x : array_like
        The input, ``D`` numbers (anything that flattens to shape ``(D,)``).
    direction : array_like
        A nonzero vector of ``D`` numbers; it is normalised to unit length.
    s : array_like
        Signed distances along the line, shape ``(S,)``.

    Returns
    -------
    numpy.ndarray
        Shape ``(S,)``, float64: :math:`M_t(x + s u)` at each ``s``.

    Raises
    ------
    ValueError
        If ``direction`` is zero or not finite.

    Examples
    --------
    >>> lin = nn.Linear(2, 2, bias=False)
    >>> _ = lin.weight.data.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))
    >>> margin_along_ray(lin, [0.5, 0.0], [-1.0, 0.0], [0.0, 0.5, 1.0]).tolist()  # 2 (0.5 - s)
    [1.0, 0.0, -1.0]
    """
    x0 = torch.as_tensor(x, dtype=torch.float64).flatten()
    u = _unit(direction)
    s_t = torch.as_tensor(np.asarray(s, dtype=np.float64)).flatten()
    t = int(_logits(model, x0[None]).argmax(1)[0])
    logits = _logits(model, x0[None] + s_t[:, None] * u[None])
    own = logits[:, t]
    others = logits.clone()
    others[:, t] = -torch.inf
    return (own - others.amax(1)).numpy()


def margin_lower_bound(certifier: Certifier, x, s) -> np.ndarray:
    r"""The certificate's guaranteed lower bound on the margin at distance ``|s|`` from ``x``.

    .. math:: \underline{M}(s) = \min_{j \ne t}\big(f_t(x) - f_j(x) - s_{tj}\,|s|\big)
        \le M_t(x + \delta) \quad\text{for every } \|\delta\|_2 = |s|,

    with :math:`t` the class predicted at :math:`x` and the scales :math:`s_{tj}` of the
    certifier's form (:func:`lipviz.functional.certificate_scales`). It is 0 at
    :math:`|s| = \varepsilon(x)`, the certifier's radius, and positive inside.

    Parameters
    ----------
    certifier : lipviz.Certifier
        Its model, form and Lipschitz bound (global or pairwise).
    x : array_like
        The input, anything that reshapes to the certifier's input shape.
    s : array_like
        Distances from ``x``, shape ``(S,)`` (only ``|s|`` matters).

    Returns
    -------
    numpy.ndarray
        Shape ``(S,)``, float64: :math:`\underline{M}(s)`.

    Examples
    --------
    >>> lin = nn.Linear(2, 2, bias=False)
    >>> _ = lin.weight.data.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))
    >>> cert = Certifier(lin, (2,), form="global")  # L = sqrt(2): slope sqrt(2) L = 2
    >>> [round(float(v), 12) + 0.0 for v in margin_lower_bound(cert, [0.5, 0.0], [0.0, 0.25, -0.5])]
    [1.0, 0.5, 0.0]
    """
    x0 = torch.as_tensor(x, dtype=torch.float64).reshape(1, *certifier.input_shape)
    certifier.check_current()
    logits = _logits(certifier.model, x0)
    pred = logits.argmax(1)
    table = certifier.row_dist if certifier.form == "pairwise" else None
    scales = certificate_scales(logits, pred, certifier.lipschitz, table)[0]  # (C,)
    gaps = (logits[0, pred] - logits[0]).double()  # f_t - f_j, (C,)
    s_abs = torch.as_tensor(np.abs(np.asarray(s, dtype=np.float64))).flatten()
    lines = gaps[None, :] - scales[None, :].double() * s_abs[:, None]  # (S, C)
    lines[:, int(pred[0])] = torch.inf  # j = t excluded
    return lines.amin(1).numpy()


def largest_gap_slope(
    model: nn.Module, extent, i: int = 0, j: int = 1, resolution: int = 200
) -> float:
    r"""The largest gradient norm of the logit difference :math:`f_i - f_j` on a grid.

    .. math:: \max_{x \in \text{grid}} \|\nabla_x (f_i - f_j)(x)\|_2
        \;\le\; \operatorname{Lip}\big((f_i - f_j)|_{\text{extent}}\big)

    A lower bound on the Lipschitz constant of :math:`f_i - f_j` over the rectangle (equal to it
    when the grid meets every linear region of a ReLU network where the maximum is reached). A
    certificate assumes a slope of at least this: :math:`L_{\text{prefix}}\|w_i - w_j\|_2` in
    the pairwise form, :math:`\sqrt2\,L` in the global one.

    Parameters
    ----------
    model : nn.Module
        A classifier on 2-D inputs, ``(B, 2)`` to ``(B, C)``, differentiable almost everywhere
        (run in eval mode; its mode is restored).
    extent : tuple of float
        ``(xmin, xmax, ymin, ymax)``, e.g. ``ToyDataset.extent()``.
    i, j : int
        The two classes.
    resolution : int
        Grid points per axis.

    Returns
    -------
    float
        The largest gradient norm found.

    Examples
    --------
    >>> lin = nn.Linear(2, 2)
    >>> _ = lin.weight.data.copy_(torch.tensor([[3.0, 0.0], [0.0, -4.0]]))
    >>> largest_gap_slope(lin, (-1, 1, -1, 1), resolution=5)  # ||w_0 - w_1|| = ||(3, 4)||
    5.0
    """
    xmin, xmax, ymin, ymax = (float(v) for v in extent)
    xs = torch.linspace(xmin, xmax, resolution, dtype=torch.float64)
    ys = torch.linspace(ymin, ymax, resolution, dtype=torch.float64)
    dtype = next(iter(model.parameters())).dtype
    grid = torch.cartesian_prod(xs, ys).to(dtype).requires_grad_(True)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            logits = model(grid)
            # each row depends on its own input only: the gradient of the sum is per-row
            (grad,) = torch.autograd.grad((logits[:, i] - logits[:, j]).sum(), grid)
    finally:
        model.train(was_training)
    return float(grad.double().norm(dim=1).max())


def _nearest_change_direction(model, x0: torch.Tensor) -> torch.Tensor:
    from ...exact.planar import boundary_distance

    dist, closest = boundary_distance(model, x0[None].float(), n_directions=720)
    if torch.isfinite(dist[0]) and float(dist[0]) > 0:
        return closest[0].double() - x0
    # no change of class in reach: the direction in which the margin falls fastest
    xg = x0.clone().requires_grad_(True)
    dtype = next(iter(model.parameters())).dtype
    with torch.enable_grad():
        logits = model(xg[None].to(dtype))[0]
        t = int(logits.argmax())
        others = torch.cat([logits[:t], logits[t + 1 :]])
        (grad,) = torch.autograd.grad(logits[t] - others.max(), xg)
    return -grad.detach()


def plot_margin_cone(model: nn.Module, x, direction=None, *, s_max: float | None = None, ax=None):
    r"""The margin along a line through ``x``, under the global and pairwise cones.

    Draws :math:`M_t(x + s u)` (:func:`margin_along_ray`), the global lower bound
    :math:`M_f(x) - \sqrt2\,L\,|s|` and, when the model is an ``nn.Sequential`` ending in
    ``nn.Linear``, the pairwise one (:func:`margin_lower_bound`); the certified intervals
    :math:`|s| < \varepsilon(x)` of both forms as bands under the axis; and the first change
    of prediction along :math:`u` found on the grid, if any. The model runs in eval mode and is
    left as it was.

    Parameters
    ----------
    model : nn.Module
        A classifier on 2-D inputs (a registered sound bound for every layer), ``(B, 2)`` to
        ``(B, C)``.
    x : array_like
        The point, two numbers.
    direction : array_like, optional
        The line's direction. Default: towards the nearest input with another prediction
        (:func:`lipviz.exact.planar.boundary_distance`, 720 rays), else, when none is in reach,
        the direction of steepest descent of the margin.
    s_max : float, optional
        Half-width of the :math:`s` axis. Default: 1.3 times the farther of the first change
        along :math:`u` and twice the larger radius.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure (``figsize=(7, 4.4)``) when omitted.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on (``ax``, or the new one).
    """
    import matplotlib.pyplot as plt

    x0 = torch.as_tensor(x, dtype=torch.float64).flatten()
    u = _unit(_nearest_change_direction(model, x0) if direction is None else direction)
    certifiers = {"global": Certifier(model, (2,), form="global")}
    with contextlib.suppress(ValueError):  # no last nn.Linear: the global form only
        certifiers["pairwise"] = Certifier(model, (2,), form="pairwise")
    radius = {k: float(c(x0[None].float()).radius[0]) for k, c in certifiers.items()}
    reach = 20.0 * max(radius.values()) if max(radius.values()) > 0 else 1.0
    probe = np.linspace(0.0, reach, 4001)
    flips = np.nonzero(margin_along_ray(model, x0, u, probe) <= 0)[0]
    crossing = float(probe[flips[0]]) if len(flips) else None
    if s_max is None:
        s_max = 1.3 * max(crossing or 0.0, 2.0 * max(radius.values()))
    s = np.linspace(-s_max, s_max, 801)
    margin = margin_along_ray(model, x0, u, s)

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.4), layout="constrained")
    ax.axhline(0.0, color="black", lw=0.8)
    ax.plot(s, margin, color="black", lw=2, label=r"margin $M_t(x + s\,u)$ of the network")
    styles = {
        "global": ("#d62728", r"global cone $M_f(x) - \sqrt{2}\,L\,|s|$"),
        "pairwise": (
            "#1f77b4",
            r"pairwise cone $\min_{j}\,(f_t - f_j - L_{\mathrm{prefix}}\|w_t - w_j\|\,|s|)$",
        ),
    }
    top = float(np.nanmax(margin))
    for k, (form, cert) in enumerate(certifiers.items()):
        color, label = styles[form]
        lw, ls = (3.0, "-") if form == "global" else (1.6, "--")
        ax.plot(
            s, margin_lower_bound(cert, x0, s), color=color, lw=lw, ls=ls, alpha=0.85, label=label
        )
        r = radius[form]
        y = -(0.08 + 0.07 * k) * top
        ax.plot(
            [-r, r],
            [y, y],
            color=color,
            lw=5,
            solid_capstyle="butt",
            label=f"certified interval ({form}): $|s| <$ {r:.3g}",
        )
    if crossing is not None:
        ax.axvline(crossing, color="gray", ls=":", lw=1.2)
        text = f"prediction changes\nat s = {crossing:.3g}"
        ax.annotate(
            text,
            (crossing, 0.75 * top),
            xytext=(-6, 0),
            textcoords="offset points",
            ha="right",
            fontsize=9,
            color="dimgray",
        )
    low = min(float(np.nanmin(margin)), -0.3 * top)
    ax.set(
        xlim=(-s_max, s_max),
        ylim=(max(low, -1.2 * top), 1.15 * top),
        xlabel=r"$s$: signed distance from $x$ along $u$",
        ylabel="margin of class $t$",
    )
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=9, frameon=False)
    return ax
