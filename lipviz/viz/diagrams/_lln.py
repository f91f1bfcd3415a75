r"""Diagrams of the chapters on GNP activations and on last-layer normalisation (LLN).

- :func:`householder_pair` applies the order-1 Householder activation (HH1) to points of one
  channel pair, :math:`z \mapsto z - 2\max(0, v^\top z)\, v` with
  :math:`v = (\sin\frac\theta2, -\cos\frac\theta2)`, and :func:`plot_householder_pair` draws
  it: the mirror line :math:`v^\top z = 0`, the reflected half-plane, a few points with their
  images, and a segment that crosses the mirror with its image, of the same length.
- :func:`decision_regions` evaluates the predicted class of a classifier of 2-D inputs on a
  grid, and :func:`plot_certified_balls` draws those regions with balls of given radii around
  one input: a sound radius stays inside the input's region, an unsound one leaves it.
- :func:`lln_pair_distances` normalises a last layer's rows as LLN does and measures the
  chords :math:`\|\tilde w_t - \tilde w_i\|_2` of its pairwise certificate;
  :func:`plot_lln_rows` draws them for 2-D rows.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

__all__ = [
    "decision_regions",
    "householder_pair",
    "lln_pair_distances",
    "plot_certified_balls",
    "plot_householder_pair",
    "plot_lln_rows",
]


def householder_pair(z, theta: float) -> np.ndarray:
    r"""The Householder activation of order 1 on points of one channel pair.

    With :math:`v = (\sin\frac\theta2, -\cos\frac\theta2)`, a unit vector,

    .. math:: \varphi(z) = z - 2\max(0, v^\top z)\, v
        = \begin{cases} (I - 2vv^\top)\, z & v^\top z > 0 \\ z & v^\top z \le 0, \end{cases}

    the map of :class:`lipviz.layers.Householder` on the pair :math:`z = (x, y)`.

    Parameters
    ----------
    z : array_like
        Shape ``(N, 2)`` (or ``(2,)``): points :math:`(x, y)`.
    theta : float
        The angle :math:`\theta` of the activation.

    Returns
    -------
    numpy.ndarray
        :math:`\varphi(z)`, the shape of ``z``, float64.

    Examples
    --------
    >>> householder_pair([[3.0, 1.0], [1.0, 3.0]], math.pi / 2).round(12).tolist()
    [[1.0, 3.0], [1.0, 3.0]]
    """
    pts = np.asarray(z, dtype=np.float64)
    v = np.array([math.sin(theta / 2), -math.cos(theta / 2)])
    return pts - 2.0 * np.maximum(0.0, pts @ v)[..., None] * v


def plot_householder_pair(theta: float = 1.1, ax=None, seed: int = 0):
    r"""Draw the Householder activation of order 1 on one channel pair.

    The plane of the pair :math:`(x, y)`: the half-plane :math:`v^\top z > 0` where the
    activation reflects (shaded), its mirror line :math:`v^\top z = 0` (the line the reflection
    :math:`I - 2vv^\top` fixes), the vector :math:`v`, a few points of the shaded half-plane
    joined to their images (:func:`householder_pair`), and a segment :math:`[a, b]` that crosses
    the mirror at :math:`m`, with its image, the broken path :math:`a \to m \to \varphi(b)`:
    the two pieces keep their lengths and meet at :math:`m`, because both formulas agree on
    the mirror.

    Parameters
    ----------
    theta : float, default 1.1
        The angle :math:`\theta` of the activation.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new 7 x 4.6 inch figure when omitted.
    seed : int, default 0
        Seed of the sample points.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.6))
    v = np.array([math.sin(theta / 2), -math.cos(theta / 2)])
    d = np.array([math.cos(theta / 2), math.sin(theta / 2)])  # the mirror's direction
    lim = 2.2
    # the shaded half-plane v.z > 0, as a large polygon
    far = 10.0
    poly = np.array([-far * d, far * d, far * d + far * v, -far * d + far * v])
    ax.fill(
        poly[:, 0],
        poly[:, 1],
        color="tab:orange",
        alpha=0.15,
        lw=0,
        label=r"$v^\top z > 0$: reflected",
    )
    ax.plot(
        [-far * d[0], far * d[0]],
        [-far * d[1], far * d[1]],
        color="tab:orange",
        lw=2,
        label=r"mirror $v^\top z = 0$",
    )
    ax.annotate(
        "", xy=v, xytext=(0, 0), arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.5}
    )
    ax.annotate("$v$", v, xytext=(-14, -4), textcoords="offset points", fontsize=12)
    rng = np.random.default_rng(seed)
    pts = rng.uniform(-1.8, 1.8, size=(40, 2))
    pts = pts[(pts @ v > 0.3) & (pts @ d > 0.3)][:5]
    img = householder_pair(pts, theta)
    for p, q in zip(pts, img, strict=True):
        ax.plot([p[0], q[0]], [p[1], q[1]], ":", color="gray", lw=1)
    ax.plot(pts[:, 0], pts[:, 1], "o", color="tab:blue", label="$z$")
    ax.plot(img[:, 0], img[:, 1], "o", mfc="white", color="tab:blue", label=r"$\varphi(z)$")
    # a segment [a, b] crossing the mirror at m, and its image a -> m -> phi(b)
    a, b = -0.8 * v - 1.4 * d, 1.2 * v - 0.9 * d
    t = (a @ v) / ((a - b) @ v)  # v.(a + t (b - a)) = 0
    m = a + t * (b - a)
    hb = householder_pair(b, theta)
    ax.plot([a[0], b[0]], [a[1], b[1]], "-", color="tab:green", lw=2, label="segment $[a, b]$")
    ax.plot(
        [a[0], m[0], hb[0]],
        [a[1], m[1], hb[1]],
        "--",
        color="tab:purple",
        lw=2,
        label=r"its image $\varphi([a, b])$",
    )
    for name, p in (("a", a), ("b", b), ("m", m), (r"\varphi(b)", hb)):
        ax.plot(*p, "k.", ms=6)
        ax.annotate(f"${name}$", p, xytext=(5, 5), textcoords="offset points", fontsize=11)
    ax.set(
        xlim=(-lim, lim),
        ylim=(-lim, lim),
        aspect="equal",
        xlabel="$x$ (channel $i$)",
        ylabel="$y$ (channel $i + C/2$)",
        title=rf"Householder activation, $\theta = {theta:.2f}$",
    )
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9)
    return ax


def decision_regions(model: nn.Module, extent, resolution: int = 300) -> np.ndarray:
    r"""The class predicted by a classifier of 2-D inputs on a regular grid.

    Parameters
    ----------
    model : nn.Module
        Maps ``(N, 2)`` inputs to logits ``(N, C)``; evaluated in eval mode without gradients
        (its mode is restored).
    extent : tuple of float
        ``(x_min, x_max, y_min, y_max)``.
    resolution : int, default 300
        Grid points per axis.

    Returns
    -------
    numpy.ndarray
        Shape ``(resolution, resolution)``, integer: entry ``[i, j]`` is
        :math:`\arg\max_c f_c` at the point ``(xs[j], ys[i])`` with ``xs`` and ``ys`` the
        ``np.linspace`` of the extent (the layout of ``imshow(..., origin="lower")``).

    Examples
    --------
    >>> net = nn.Linear(2, 2)
    >>> _ = net.weight.data.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0]])), net.bias.data.zero_()
    >>> decision_regions(net, (-1, 1, -1, 1), resolution=4)[0].tolist()
    [1, 1, 0, 0]
    """
    x0, x1, y0, y1 = extent
    xs = np.linspace(x0, x1, resolution)
    ys = np.linspace(y0, y1, resolution)
    gx, gy = np.meshgrid(xs, ys)
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    dtype = next(iter(model.parameters()), torch.zeros(())).dtype
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(torch.as_tensor(grid, dtype=dtype))
    finally:
        model.train(was_training)
    return logits.argmax(1).numpy().reshape(resolution, resolution)


def plot_certified_balls(model: nn.Module, x, radii: dict, extent, ax=None, resolution: int = 300):
    r"""Draw the decision regions of a 2-D classifier and balls of given radii around ``x``.

    The region of the class predicted at ``x`` is shaded dark, every other region a light
    shade of its own; each ball :math:`\{z : \|z - x\|_2 \le r\}` is a circle. A certified
    radius is sound when its ball stays inside the dark region.

    Parameters
    ----------
    model : nn.Module
        Maps ``(N, 2)`` inputs to logits ``(N, C)``.
    x : array_like
        The input, 2 values (e.g. a tensor of shape ``(1, 2)``).
    radii : dict
        Maps a legend label (str) to a radius (float, >= 0).
    extent : tuple of float
        ``(x_min, x_max, y_min, y_max)`` of the drawn window.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new 6.5 x 4.5 inch figure when omitted.
    resolution : int, default 300
        Grid points per axis of :func:`decision_regions`.

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on.
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Circle, Patch

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4.5))
    point = np.asarray(torch.as_tensor(x, dtype=torch.float64).flatten(), dtype=np.float64)
    regions = decision_regions(model, extent, resolution)
    dtype = next(iter(model.parameters()), torch.zeros(())).dtype
    with torch.no_grad():
        own = int(model(torch.as_tensor(point[None], dtype=dtype)).argmax(1))
    n = int(max(regions.max(), own)) + 1
    colors = plt.get_cmap("tab20")(np.arange(n) % 20)
    colors[:, :3] = 0.55 * colors[:, :3] + 0.45  # pale shades for the other classes
    colors[own] = (0.25, 0.45, 0.75, 1.0)
    ax.imshow(
        regions,
        origin="lower",
        extent=extent,
        cmap=ListedColormap(colors),
        vmin=-0.5,
        vmax=n - 0.5,
        interpolation="nearest",
        aspect="equal",
    )
    handles = [Patch(color=colors[own], label=f"region of class {own} (predicted at x)")]
    styles = ["-", "--", "-.", ":"]
    edges = ["orange", "black", "crimson", "white"]
    for k, (label, r) in enumerate(radii.items()):
        circle = Circle(
            point, float(r), fill=False, lw=2.2, ls=styles[k % 4], color=edges[k % 4], label=label
        )
        ax.add_patch(circle)
        handles.append(circle)
    (dot,) = ax.plot(*point, "k*", ms=12, label="x")
    handles.append(dot)
    ax.set(xlim=extent[:2], ylim=extent[2:], xlabel="feature 1", ylabel="feature 2")
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9)
    return ax


def lln_pair_distances(weight, target: int) -> dict:
    r"""LLN's unit rows :math:`\tilde w_j = w_j / \|w_j\|_2` and the distances
    :math:`\|\tilde w_t - \tilde w_i\|_2 = 2 \sin(\alpha_{ti}/2)` that divide the logit gaps of
    its pairwise certificate (Singla, Singla and Feizi, ICLR 2022).

    Parameters
    ----------
    weight : array_like
        The free weight :math:`W`, shape ``(C, m)``, no zero row.
    target : int
        The class :math:`t`.

    Returns
    -------
    dict
        ``rows`` ``(C, m)`` (unit rows), ``distances`` ``(C,)`` (0 at ``target``) and
        ``angles`` ``(C,)`` (:math:`\alpha_{ti}` in radians).

    Examples
    --------
    >>> d = lln_pair_distances([[2.0, 0.0], [0.0, 3.0], [-1.0, 0.0]], 0)
    >>> d["distances"].round(4).tolist()  # 90 degrees: sqrt 2; opposite rows: 2
    [0.0, 1.4142, 2.0]
    """
    w = np.asarray(weight, dtype=np.float64)
    norms = np.linalg.norm(w, axis=1, keepdims=True)
    if np.any(norms == 0):
        msg = "every row of the weight must be nonzero (LLN divides by its norm)"
        raise ValueError(msg)
    rows = w / norms
    distances = np.linalg.norm(rows - rows[target], axis=1)
    angles = np.arccos(np.clip(rows @ rows[target], -1.0, 1.0))
    return {"rows": rows, "distances": distances, "angles": angles}


def plot_lln_rows(weight, target: int = 0, ax=None):
    """Draw the rows of a 2-D last layer before and after LLN's normalisation, with the chords
    from the target's unit row to the others labelled by their lengths (the pairwise
    certificate's denominators, against :math:`\\sqrt2` for orthonormal rows).

    Parameters
    ----------
    weight : array_like
        Shape ``(C, 2)``.
    target : int
        The class :math:`t`.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] != 2:
        msg = f"plot_lln_rows draws 2-D rows, got a weight of shape {w.shape}"
        raise ValueError(msg)
    geom = lln_pair_distances(w, target)
    rows = geom["rows"]
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    t = np.linspace(0, 2 * math.pi, 200)
    ax.plot(np.cos(t), np.sin(t), color="#bbbbbb", lw=0.8)
    for j, (raw, unit) in enumerate(zip(w, rows, strict=True)):
        colour = "tab:blue" if j == target else "tab:grey"
        ax.annotate("", raw, xytext=(0, 0), arrowprops={"arrowstyle": "->", "color": "#cccccc"})
        ax.annotate("", unit, xytext=(0, 0), arrowprops={"arrowstyle": "->", "color": colour})
        ax.text(*(1.12 * unit), f"class {j}", ha="center", va="center", fontsize=8)
        if j != target:
            ax.plot(*zip(rows[target], unit, strict=True), color="tab:orange", lw=1, ls="--")
            mid = (rows[target] + unit) / 2
            ax.text(*mid, f"{geom['distances'][j]:.2f}", fontsize=8, color="tab:orange")
    reach = max(1.3, float(np.abs(w).max()) * 1.1)
    ax.set_xlim(-reach, reach)
    ax.set_ylim(-reach, reach)
    ax.set_aspect("equal")
    ax.set_title(
        "free rows (light), LLN's unit rows and the chords ‖w̃_t − w̃_i‖\n"
        "(orthonormal rows: every chord √2 ≈ 1.41)",
        fontsize=9,
    )
    return ax
