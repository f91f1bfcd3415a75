"""Linear bounds by backward substitution (CROWN): the ReLU triangle relaxation, and the exact
minimum of a linear function over the input set."""

from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn.functional as F

from ...functional import ball_box_dual, ball_box_value
from ..rounding import gamma, round_up
from ._chain import AffineMap
from ._interval import absmax

__all__ = ["Problem", "rows_lower", "tighten"]

_BUDGET = 1 << 24  # float64 entries per backward pass (about 128 MB)


@dataclasses.dataclass
class Problem:
    """One batch's bound-propagation problem, filled in layer by layer.

    Parameters
    ----------
    blocks : list of list of AffineMap
        The chain (:func:`~lipviz.bounds.propagation._chain.chain`).
    x0 : Tensor
        The centres ``(B, *input)``, float64.
    eps : Tensor
        The radii ``(B,)``.
    norm : float
        2 or ``inf``.
    lo, hi : Tensor
        The input set's enclosing box ``(B, *input)``.
    inputs : list
        Per block, the absmax of each operator's input.
    relu : list
        Per ReLU, the ``(lo, hi)`` bounds of its input.
    """

    blocks: list[list[AffineMap]]
    x0: torch.Tensor  # (B, *input) float64
    eps: torch.Tensor  # (B,)
    norm: float
    lo: torch.Tensor  # the input set's box (B, *input)
    hi: torch.Tensor
    inputs: list  # per block: the absmax of each operator's input, (B, *shape_in)
    relu: list  # per ReLU: (lo, hi) of its input, (B, *shape)


def _minimum_over_input(p: Problem, lam: torch.Tensor) -> torch.Tensor:
    """A lower bound of ``min over D of lam . x`` (rows ``(B, R, *input)``), rounding included."""
    b, r = lam.shape[:2]
    c = -lam.reshape(b, r, -1)  # maximise c . d over D - x0
    x0 = p.x0.reshape(b, 1, -1)
    down = (p.lo.reshape(b, 1, -1) - x0).clamp_max(0)
    up = (p.hi.reshape(b, 1, -1) - x0).clamp_min(0)
    down, up = down * (1 + gamma(2)), up * (1 + gamma(2))  # the subtractions, rounded outward
    terms = torch.maximum(c * up, c * down)
    best = terms.sum(2)  # the box's maximum
    size = terms.abs().sum(2)
    if p.norm == 2:
        rho = p.eps[:, None].expand(b, r)
        ball = rho * c.norm(dim=2)
        positive = rho > 0  # the dual needs a ball with an interior
        safe = torch.where(positive, rho, torch.ones_like(rho))
        dual, dual_size = ball_box_value(c, down, up, safe, ball_box_dual(c, down, up, safe))
        dual = torch.where(positive, dual, ball)
        best = torch.minimum(torch.minimum(best, ball), dual)
        size = size + ball + dual_size
    centre = -(c * x0).sum(2)
    size = size + (c * x0).abs().sum(2)
    slack = gamma(c.shape[2] + 8) * size
    return centre - best - slack


def _lower(p: Problem, k: int, lam: torch.Tensor) -> torch.Tensor:
    """A lower bound over D of ``lam . z_k``, ``z_k`` the output of block ``k`` (CROWN)."""
    const = lam.new_zeros(lam.shape[:2])
    slack = lam.new_zeros(lam.shape[:2])
    for block in range(k, -1, -1):
        ops = p.blocks[block]
        for op, m in zip(reversed(ops), reversed(p.inputs[block]), strict=True):
            dims = tuple(range(2, lam.dim()))
            if op.bias is not None:
                const = const + (lam * op.bias).sum(dims)
                slack = slack + gamma(op.terms + 4) * (lam.abs() * op.bias.abs()).sum(dims)
            reach = op.abs_linear(m)[:, None]  # |W| max|a|, (B, 1, *shape_out)
            slack = slack + gamma(op.terms + 4) * (lam.abs() * reach).sum(dims)
            lam = op.transpose(lam)
        if block == 0:
            break
        lo, hi = p.relu[block - 1]
        lo, hi = lo[:, None], hi[:, None]
        unstable = (lo < 0) & (hi > 0)
        # upper line u (z - l) / (u - l), slope rounded up; exact on stable neurons
        slope = round_up(
            (hi / torch.where(unstable, hi - lo, torch.ones_like(hi))) * (1 + gamma(2))
        )
        up_slope = torch.where(unstable, slope, (lo >= 0).double())
        up_icpt = torch.where(unstable, -slope * lo, torch.zeros_like(lo))
        low_slope = torch.where(unstable, (hi >= -lo).double(), (lo >= 0).double())
        pos, neg = lam.clamp_min(0), lam.clamp_max(0)
        dims = tuple(range(2, lam.dim()))
        const = const + (neg * up_icpt).sum(dims)
        lam = pos * low_slope + neg * up_slope
        n = math.prod(lam.shape[2:])
        size = (lam.abs() * absmax(lo, hi)).sum(dims) + (neg * up_icpt).abs().sum(dims)
        slack = slack + gamma(n + 4) * size
    low = _minimum_over_input(p, lam)
    return low + const - slack - gamma(4) * (low.abs() + const.abs() + slack)


def rows_lower(p: Problem, k: int, rows: torch.Tensor) -> torch.Tensor:
    """Lower bounds over the input set of ``rows . z_k`` by backward substitution (CROWN), in
    chunks of rows that fit the memory budget.

    Parameters
    ----------
    p : Problem
        The problem, with the bounds of every ReLU before block ``k`` filled in.
    k : int
        The block whose output the rows weigh.
    rows : Tensor
        Coefficients ``(B, R, *shape_out of block k)``, float64.

    Returns
    -------
    Tensor
        Lower bounds ``(B, R)``, rounding included.
    """
    b, r = rows.shape[:2]
    widest = max(math.prod(op.shape_in) for ops in p.blocks[: k + 1] for op in ops)
    step = max(1, _BUDGET // max(1, b * widest))
    return torch.cat([_lower(p, k, rows[:, i : i + step]) for i in range(0, r, step)], 1)


def _block_bounds(p: Problem, k: int, index: torch.Tensor):
    """Lower and upper bounds of the neurons ``index`` ``(B, R)`` of block ``k``'s output (one
    row of neurons per input) by backward substitution; each ``(B, R)``."""
    b, r = index.shape
    shape = p.blocks[k][-1].shape_out
    n = math.prod(shape)
    widest = max(math.prod(op.shape_in) for ops in p.blocks[: k + 1] for op in ops)
    step = max(1, _BUDGET // max(1, 2 * b * max(widest, n)))
    lows, highs = [], []
    for i in range(0, r, step):
        part = index[:, i : i + step]
        rows = F.one_hot(part, n).double().reshape(b, part.shape[1], *shape)
        both = rows_lower(p, k, torch.cat([rows, -rows], 1))
        lows.append(both[:, : part.shape[1]])
        highs.append(-both[:, part.shape[1] :])
    return torch.cat(lows, 1), torch.cat(highs, 1)


def tighten(p: Problem, k: int, z_lo: torch.Tensor, z_hi: torch.Tensor, everyone: bool):
    """Block ``k``'s bounds intersected with those of backward substitution.

    Parameters
    ----------
    p : Problem
        The problem, with the bounds of every earlier ReLU filled in.
    k : int
        The block.
    z_lo, z_hi : Tensor
        Its output's bounds so far (IBP's), ``(B, *shape_out)``.
    everyone : bool
        Tighten every neuron, or only those whose bounds straddle 0 (the others are stable:
        CROWN treats them exactly whatever their bounds).

    Returns
    -------
    (Tensor, Tensor)
        The tightened bounds, never looser than the inputs.
    """
    b = len(z_lo)
    lo, hi = z_lo.flatten(1), z_hi.flatten(1)
    if everyone:
        index = torch.arange(lo.shape[1]).expand(b, -1)
    else:
        unstable = (lo < 0) & (hi > 0)
        count = int(unstable.sum(1).max())
        if count == 0:
            return z_lo, z_hi
        # each input's unstable neurons first (a few stable ones pad the rows)
        index = torch.argsort(unstable.double(), dim=1, descending=True, stable=True)[:, :count]
    c_lo, c_hi = _block_bounds(p, k, index)
    lo = lo.scatter(1, index, torch.maximum(lo.gather(1, index), c_lo))
    hi = hi.scatter(1, index, torch.minimum(hi.gather(1, index), c_hi))
    return lo.view_as(z_lo), hi.view_as(z_hi)
