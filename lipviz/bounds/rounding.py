r"""Floating-point rounding in sound local walks: error terms that keep every computed box,
ball and norm an enclosure of the exact one.

A sum of :math:`k` products computed in floating point with unit roundoff :math:`u` is off by
at most :math:`\gamma_k \sum_i |a_i b_i|` with :math:`\gamma_k = k u / (1 - k u)` (Higham,
*Accuracy and Stability of Numerical Algorithms*, 2nd ed., 2002, §3.1). The local walk
(:mod:`lipviz.bounds.local`) widens its boxes and radii by such terms, and the masked norms
(:mod:`lipviz.bounds.local`) add them to the eigenvalues they compute, so that rounding
never shrinks a certified set. The terms are of the order of :math:`10^{-13}` relative in
float64: they change no certificate except at exact ties.
"""

from __future__ import annotations

import math

import torch

__all__ = ["gamma", "outward", "round_up", "unit_roundoff", "widen"]


def unit_roundoff(dtype: torch.dtype = torch.float64) -> float:
    """The unit roundoff :math:`u` of a floating dtype (half the machine epsilon).

    Parameters
    ----------
    dtype : torch.dtype
        A floating dtype.

    Returns
    -------
    float

    Examples
    --------
    >>> unit_roundoff(torch.float64) == 2.0**-53
    True
    """
    return torch.finfo(dtype).eps / 2


def gamma(k: int, dtype: torch.dtype = torch.float64) -> float:
    r""":math:`\gamma_k = k u / (1 - k u)`, doubled to absorb the rounding of the error term
    itself (a safe over-estimate).

    Parameters
    ----------
    k : int
        The number of floating-point operations in a chain (e.g. the length of a dot product
        plus a few).
    dtype : torch.dtype
        The dtype the chain is computed in.

    Returns
    -------
    float
        ``inf`` when :math:`k u \ge 1/2` (no guarantee).

    Examples
    --------
    >>> 0 < gamma(100) < 3e-14
    True
    """
    ku = k * unit_roundoff(dtype)
    return 2 * ku / (1 - ku) if ku < 0.5 else math.inf


def round_up(t: torch.Tensor) -> torch.Tensor:
    """Each entry moved up by one unit in the last place (an upper bound of a value that was
    rounded to nearest once).

    Parameters
    ----------
    t : Tensor
        Floating tensor.

    Returns
    -------
    Tensor

    Examples
    --------
    >>> bool(round_up(torch.tensor([1.0], dtype=torch.float64)) > 1.0)
    True
    """
    return torch.nextafter(t, torch.full_like(t, math.inf))


def outward(lo: torch.Tensor, hi: torch.Tensor):
    """A box rounded outward by one unit in the last place on each side.

    Parameters
    ----------
    lo, hi : Tensor
        The corners (same shape).

    Returns
    -------
    (Tensor, Tensor)
        ``(lo', hi')`` with ``lo' < lo`` and ``hi' > hi`` (finite entries).

    Examples
    --------
    >>> lo, hi = outward(torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64))
    >>> bool(lo < 0), bool(hi > 1)
    (True, True)
    """
    return torch.nextafter(lo, torch.full_like(lo, -math.inf)), round_up(hi)


def widen(lo: torch.Tensor, hi: torch.Tensor, slack: torch.Tensor):
    """A box widened by ``slack`` (>= 0, broadcastable) on each side, rounded outward.

    Parameters
    ----------
    lo, hi : Tensor
        The corners.
    slack : Tensor
        Non-negative error bounds, broadcastable to ``lo``.

    Returns
    -------
    (Tensor, Tensor)

    Examples
    --------
    >>> one = torch.ones(1, dtype=torch.float64)
    >>> lo, hi = widen(one * 0, one, one / 2)
    >>> bool(lo < -0.5), bool(hi > 1.5)
    (True, True)
    """
    return outward(lo - slack, hi + slack)
