"""Exact linear regions and Lipschitz constant of tiny ReLU networks on 2-D inputs.

A ReLU network is affine on each cell of a partition of the plane into convex polygons. Starting
from a rectangle (the *extent*), each hidden neuron's pre-activation is affine on every current
cell, so the cell is split along the line where it vanishes (half-plane clipping). After the last
layer every cell carries one affine map :math:`x \\mapsto J x + c`, and, because the network is
continuous and piecewise affine, its Lipschitz constant on the (convex) extent is exactly

.. math:: \\mathrm{Lip}(f|_{\\text{extent}}) = \\max_{\\text{cells}} \\|J_{\\text{cell}}\\|_2 .
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["LinearRegions", "ball_lipschitz", "linear_regions"]


def _clip(poly: torch.Tensor, a: torch.Tensor, b: float, keep_positive: bool) -> torch.Tensor:
    """Clip a convex polygon (V, 2) to {x: a.x + b >= 0} (or <= 0); returns the vertices."""
    s = poly @ a + b
    if not keep_positive:
        s = -s
    out = []
    n = len(poly)
    for i in range(n):
        p, q = poly[i], poly[(i + 1) % n]
        sp, sq = s[i], s[(i + 1) % n]
        if sp >= 0:
            out.append(p)
        if (sp >= 0) != (sq >= 0):
            t = sp / (sp - sq)
            out.append(p + t * (q - p))
    return torch.stack(out) if out else poly.new_zeros(0, 2)


def _area(poly: torch.Tensor) -> float:
    if len(poly) < 3:
        return 0.0
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float((x * y.roll(-1) - x.roll(-1) * y).sum().abs())


@dataclass(frozen=True, eq=False)
class LinearRegions:
    """The cells of a 2-D ReLU network on an extent: polygons, Jacobians and the exact constant.

    Returned by :func:`linear_regions`; ``len()`` is the number of cells.

    Attributes
    ----------
    polygons : list of Tensor
        One convex polygon per cell, its vertices in order, float64 of shape ``(V, 2)``.
    jacobians : Tensor
        The Jacobian of the network on each cell, float64 of shape ``(n_cells, n_out, 2)``.
    lipschitz : float
        :math:`\\max_{\\text{cells}} \\|J_{\\text{cell}}\\|_2`, the exact Lipschitz constant on
        the extent.
    """

    polygons: list
    jacobians: torch.Tensor  # (n_cells, n_out, 2)
    lipschitz: float

    def __len__(self) -> int:
        return len(self.polygons)


def linear_regions(model: nn.Sequential, extent=(-1.0, 1.0, -1.0, 1.0), min_area: float = 1e-12):
    """Enumerate the linear regions of ``model`` (Linear / ReLU / Identity layers, 2-D input)
    inside ``extent = (xmin, xmax, ymin, ymax)`` and return the exact Lipschitz constant there.

    The rectangle is split, neuron by neuron, along the lines where pre-activations vanish; the
    network is affine on each resulting cell, and on the (convex) extent

    .. math:: \\mathrm{Lip}(f|_{\\text{extent}}) = \\max_{\\text{cells}} \\|J_{\\text{cell}}\\|_2 .

    Computed in float64.

    Parameters
    ----------
    model : nn.Sequential
        ``nn.Linear``, ``nn.ReLU`` and ``nn.Identity`` layers (or one such module), the first
        Linear taking 2 inputs; it maps ``(N, 2)`` to ``(N, n_out)``.
    extent : tuple of float
        ``(xmin, xmax, ymin, ymax)``, e.g. ``ToyDataset.extent()``.
    min_area : float
        Pieces of area at most ``min_area`` produced by a split are dropped.

    Returns
    -------
    LinearRegions
        The cells' polygons and Jacobians (``(n_cells, n_out, 2)``) and the exact constant.

    Raises
    ------
    TypeError
        For a layer other than Linear, ReLU or Identity.
    ValueError
        If the network does not take 2-D inputs.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(2, 1, bias=False), nn.ReLU())
    >>> _ = net[0].weight.data.copy_(torch.tensor([[3.0, 4.0]]))
    >>> r = linear_regions(net)
    >>> len(r), r.lipschitz
    (2, 5.0)
    """
    layers = list(model) if isinstance(model, nn.Sequential) else [model]
    for layer in layers:
        if not isinstance(layer, (nn.Linear, nn.ReLU, nn.Identity)):
            msg = f"linear_regions supports Linear/ReLU/Identity layers only, got {layer!r}"
            raise TypeError(msg)
    first = next((m for m in layers if isinstance(m, nn.Linear)), None)
    if first is None or first.in_features != 2:
        msg = "linear_regions needs a network on 2-D inputs"
        raise ValueError(msg)
    xmin, xmax, ymin, ymax = extent
    square = torch.tensor(
        [[xmin, ymin], [xmax, ymin], [xmax, ymax], [xmin, ymax]], dtype=torch.float64
    )
    # each cell: (polygon, J (k, 2), c (k,)) with the current layer output = J x + c
    cells = [(square, torch.eye(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64))]
    with torch.no_grad():
        for layer in layers:
            if isinstance(layer, nn.Linear):
                w = layer.weight.double()
                b = (
                    layer.bias.double()
                    if layer.bias is not None
                    else torch.zeros(w.shape[0]).double()
                )
                cells = [(p, w @ jac, w @ c + b) for p, jac, c in cells]
            elif isinstance(layer, nn.ReLU):
                for unit in range(cells[0][1].shape[0]):
                    split = []
                    for poly, jac, c in cells:
                        a, off = jac[unit], float(c[unit])
                        for positive in (True, False):
                            piece = _clip(poly, a, off, positive)
                            if _area(piece) <= min_area:
                                continue
                            j2, c2 = jac.clone(), c.clone()
                            if not positive:
                                j2[unit], c2[unit] = 0.0, 0.0
                            split.append((piece, j2, c2))
                    cells = split
    jacs = torch.stack([jac for _, jac, _ in cells])
    norms = torch.linalg.matrix_norm(jacs, 2)
    return LinearRegions([p for p, _, _ in cells], jacs, float(norms.max()))


def _distance_to_polygon(poly: torch.Tensor, p: torch.Tensor) -> float:
    """l2 distance from point ``p`` to the convex polygon ``poly`` (0 inside)."""
    a, b = poly, torch.roll(poly, -1, dims=0)
    edge, rel = b - a, p[None] - a
    cross = edge[:, 0] * rel[:, 1] - edge[:, 1] * rel[:, 0]
    if (cross >= 0).all() or (cross <= 0).all():
        return 0.0
    t = ((rel * edge).sum(1) / (edge * edge).sum(1).clamp_min(1e-300)).clamp(0.0, 1.0)
    return float((rel - t[:, None] * edge).norm(dim=1).min())


def ball_lipschitz(model: nn.Sequential, center, eps: float, min_area: float = 1e-14) -> float:
    r"""The exact Lipschitz constant of a 2-D ReLU network on the disc :math:`B(c, \varepsilon)`:

    .. math:: \mathrm{Lip}(f|_{B(c, \varepsilon)}) = \max_{\text{cells } R,\
        R \cap \mathring B \ne \emptyset} \|J_R\|_2 ,

    since the disc is convex and :math:`f` is affine on each cell (the oracle of local bounds).

    Parameters
    ----------
    model : nn.Sequential
        As for :func:`linear_regions`.
    center : sequence of float or Tensor
        The disc's centre, 2 coordinates.
    eps : float
        Its radius (> 0).
    min_area : float
        As for :func:`linear_regions`.

    Returns
    -------
    float
        The constant on the disc (float64 arithmetic).

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(2, 1), nn.ReLU())
    >>> _ = net[0].weight.data.copy_(torch.tensor([[3.0, 4.0]]))
    >>> _ = net[0].bias.data.fill_(-10.0)
    >>> ball_lipschitz(net, [0.0, 0.0], 1.0), ball_lipschitz(net, [0.0, 0.0], 3.0)
    (0.0, 5.0)
    """
    c = torch.as_tensor(center, dtype=torch.float64).flatten()
    if c.numel() != 2 or not eps > 0:
        msg = f"ball_lipschitz needs a 2-D centre and eps > 0, got {tuple(c.shape)} and {eps}"
        raise ValueError(msg)
    extent = (float(c[0]) - eps, float(c[0]) + eps, float(c[1]) - eps, float(c[1]) + eps)
    regions = linear_regions(model, extent, min_area)
    norms = torch.linalg.matrix_norm(regions.jacobians, 2)
    inside = [
        float(n)
        for poly, n in zip(regions.polygons, norms, strict=True)
        if _distance_to_polygon(poly, c) < eps
    ]
    return max(inside, default=0.0)
