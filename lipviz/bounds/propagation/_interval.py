"""Interval arithmetic (IBP) through the chain, every rounding error widened outward."""

from __future__ import annotations

import torch

from ..rounding import gamma, outward, round_up
from ._chain import AffineMap

__all__ = ["absmax", "interval", "through_block", "ibp_margins"]


def interval(op: AffineMap, lo: torch.Tensor, hi: torch.Tensor):
    """The box of ``op(a)`` for ``a`` in ``[lo, hi]``, every rounding widened outward.

    Parameters
    ----------
    op : AffineMap
        The affine operator.
    lo, hi : Tensor
        The input box ``(B, *op.shape_in)``, float64.

    Returns
    -------
    (Tensor, Tensor)
        Lower and upper bounds ``(B, *op.shape_out)`` that enclose the exact box image.
    """
    centre, radius = (hi + lo) / 2, (hi - lo) / 2
    radius = round_up(radius + gamma(2) * torch.maximum(hi.abs(), lo.abs()))  # encloses the box
    out_c, out_r = op.forward(centre), op.abs_linear(radius)
    size = op.abs_linear(centre.abs()) + out_r
    if op.bias is not None:
        size = size + op.bias.abs()
    slack = gamma(op.terms + 4) * size
    return outward(out_c - out_r - slack, out_c + out_r + slack)


def absmax(lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """The largest magnitude in each interval ``[lo, hi]``.

    Parameters
    ----------
    lo, hi : Tensor
        Interval bounds of one shape.

    Returns
    -------
    Tensor
        ``max(|lo|, |hi|)``, the same shape.
    """
    return torch.maximum(lo.abs(), hi.abs())


def through_block(ops: list[AffineMap], lo: torch.Tensor, hi: torch.Tensor):
    """IBP through one block; also the absmax of every operator's input.

    Parameters
    ----------
    ops : list of AffineMap
        The block's operators, in order.
    lo, hi : Tensor
        The box of the block's input ``(B, *shape_in)``.

    Returns
    -------
    (Tensor, Tensor, list of Tensor)
        The box of the block's output, and the absmax of each operator's input (for the
        rounding bounds of backward substitution).
    """
    inputs = []
    for op in ops:
        inputs.append(absmax(lo, hi))
        lo, hi = interval(op, lo, hi)
    return lo, hi, inputs


def ibp_margins(ops: list[AffineMap], inputs: list, rows, a_lo, a_hi):
    """IBP's margins: the last block folded with the margins' rows, bounded over the box of its
    input (an affine map over a box: its exact minimum, rounding included).

    Parameters
    ----------
    ops : list of AffineMap
        The last block's operators.
    inputs : list of Tensor
        The absmax of each operator's input, as :func:`through_block` returns it.
    rows : Tensor
        The margins' rows ``e_y - e_j``, ``(B, C, C)``.
    a_lo, a_hi : Tensor
        The box of the last block's input.

    Returns
    -------
    Tensor
        Lower bounds of the margins ``(B, C)``.
    """
    lam, const, slack = rows, rows.new_zeros(rows.shape[:2]), rows.new_zeros(rows.shape[:2])
    for op, m in zip(reversed(ops), reversed(inputs), strict=True):
        dims = tuple(range(2, lam.dim()))
        if op.bias is not None:
            const = const + (lam * op.bias).sum(dims)
            slack = slack + gamma(op.terms + 4) * (lam.abs() * op.bias.abs()).sum(dims)
        slack = slack + gamma(op.terms + 4) * (lam.abs() * op.abs_linear(m)[:, None]).sum(dims)
        lam = op.transpose(lam)
    b, r = lam.shape[:2]
    flat = lam.reshape(b, r, -1)
    lo, hi = a_lo.reshape(b, 1, -1), a_hi.reshape(b, 1, -1)
    terms = torch.minimum(flat * lo, flat * hi)
    size = terms.abs().sum(2) + const.abs()
    return terms.sum(2) + const - slack - gamma(flat.shape[2] + 8) * size
