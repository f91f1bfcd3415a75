"""Exact geometry for classifiers on 2-D inputs: decision grids and distances to the boundary.

In two dimensions the true l2 distance from a point to a classifier's decision boundary can be
found by brute force: shoot rays in many directions, find where the prediction first changes,
refine by bisection. Every distance returned is realised by an actual input with a different
prediction, so it is an *upper bound* on the true distance (exact up to the angular resolution):
a certified radius must never exceed it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..functional import margins
from ..state import eval_mode

__all__ = ["boundary_distance", "decision_grid"]


def _dtype(model: nn.Module) -> torch.dtype:
    """The dtype of the model's first floating parameter (float32 without one)."""
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), torch.float32)


def _predict(model: nn.Module, x: torch.Tensor, batch: int = 1 << 16) -> torch.Tensor:
    x = x.to(_dtype(model))
    with torch.no_grad(), eval_mode(model):
        return torch.cat([model(xb).argmax(1) for xb in x.split(batch)])


def decision_grid(model: nn.Module, extent, resolution: int = 200):
    r"""Predicted class and predicted-class margin on a regular grid.

    The margin is :math:`f_t(x) - \max_{i \ne t} f_i(x)` of the predicted class :math:`t`
    (:func:`lipviz.functional.margins`), so it is >= 0.

    Parameters
    ----------
    model : nn.Module
        A classifier on 2-D inputs.
    extent : tuple of float
        ``(xmin, xmax, ymin, ymax)``, e.g. ``ToyDataset.extent()``.
    resolution : int
        Grid points per axis.

    Returns
    -------
    (xs, ys, pred, margin)
        ``xs``, ``ys`` of shape ``(resolution,)``; ``pred`` and ``margin`` of shape
        ``(resolution, resolution)``, indexed ``[iy, ix]`` (ready for ``contourf(xs, ys, pred)``).

    Examples
    --------
    >>> net = nn.Linear(2, 2)
    >>> xs, ys, pred, margin = decision_grid(net, (-1.0, 1.0, -1.0, 1.0), resolution=5)
    >>> xs.shape, pred.shape, bool((margin >= 0).all())
    (torch.Size([5]), torch.Size([5, 5]), True)
    """
    xmin, xmax, ymin, ymax = extent
    xs = torch.linspace(xmin, xmax, resolution)
    ys = torch.linspace(ymin, ymax, resolution)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    pts = torch.stack([gx.flatten(), gy.flatten()], 1).to(_dtype(model))
    with torch.no_grad(), eval_mode(model):
        logits = model(pts)
    shape = (resolution, resolution)
    return xs, ys, logits.argmax(1).view(shape), margins(logits).view(shape)


def boundary_distance(
    model: nn.Module,
    x: torch.Tensor,
    *,
    n_directions: int = 360,
    r_max: float = 3.0,
    n_steps: int = 300,
    n_bisect: int = 30,
):
    """Distance from each 2-D point to the nearest input with a different predicted class.

    Parameters
    ----------
    model : nn.Module
        A classifier on 2-D inputs, mapping ``(B, 2)`` to logits ``(B, C)`` (run in eval mode).
    x : Tensor
        Points (N, 2).
    n_directions, r_max, n_steps : int, float, int
        Rays at ``n_directions`` evenly spaced angles, scanned out to ``r_max`` in ``n_steps``.
    n_bisect : int
        Bisection steps refining each first crossing.

    Returns
    -------
    distance : Tensor (N,)
        ``inf`` where no change was found within ``r_max``.
    closest : Tensor (N, 2)
        The input realising each distance (NaN where none).

    Raises
    ------
    ValueError
        If ``x`` is not of shape ``(N, 2)``.

    Examples
    --------
    >>> import torch
    >>> net = nn.Linear(2, 2)  # boundary: the line x0 = 0.5
    >>> _ = net.weight.data.copy_(torch.tensor([[-1.0, 0.0], [1.0, 0.0]]))
    >>> _ = net.bias.data.copy_(torch.tensor([0.5, -0.5]))
    >>> dist, closest = boundary_distance(net, torch.tensor([[0.0, 0.0]]), n_directions=4)
    >>> round(float(dist[0]), 4), [round(v, 4) for v in closest[0].tolist()]
    (0.5, [0.5, 0.0])
    """
    if x.dim() != 2 or x.shape[1] != 2:
        msg = f"boundary_distance works on 2-D inputs (N, 2), got shape {tuple(x.shape)}"
        raise ValueError(msg)
    x = x.detach().float()
    n = len(x)
    angles = torch.arange(n_directions) * (2 * math.pi / n_directions)
    dirs = torch.stack([angles.cos(), angles.sin()], 1)  # (D, 2)
    radii = torch.linspace(0.0, r_max, n_steps + 1)[1:]  # (S,)
    base = _predict(model, x)  # (N,)
    pts = x[:, None, None, :] + radii[None, None, :, None] * dirs[None, :, None, :]
    pred = _predict(model, pts.reshape(-1, 2)).view(n, n_directions, n_steps)
    flipped = pred != base[:, None, None]
    has = flipped.any(2)
    first = torch.where(has, flipped.float().argmax(2), torch.zeros_like(base)[:, None])
    hi = radii[first]
    lo = torch.where(first > 0, radii[(first - 1).clamp_min(0)], torch.zeros_like(hi))
    for _ in range(n_bisect):
        mid = (lo + hi) / 2
        q = x[:, None, :] + mid[..., None] * dirs[None]
        changed = _predict(model, q.reshape(-1, 2)).view(n, n_directions) != base[:, None]
        hi = torch.where(changed, mid, hi)
        lo = torch.where(changed, lo, mid)
    hi = torch.where(has, hi, torch.full_like(hi, float("inf")))
    dist, k = hi.min(1)
    closest = x + dist[:, None] * dirs[k]
    closest[~torch.isfinite(dist)] = float("nan")
    return dist, closest
