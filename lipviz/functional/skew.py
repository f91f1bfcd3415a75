r"""Skew-symmetric square filters stored as their independent half.

An SOC filter :math:`W` of shape ``(M, M, k, k)`` (``k`` odd) enters the layer only through
:math:`S = \tfrac12 (W - W^*)`, with :math:`W^*` the filter of the transposed convolution
(channels swapped, kernel rotated by 180 degrees; Singla and Feizi, ICML 2021). Since
:math:`S^* = -S`, the entries of :math:`S` come in pairs of opposite sign, and the :math:`M`
centre taps of the diagonal, their own partners, are 0: :math:`(M^2 k^2 - M)/2` values
determine :math:`S`. :func:`pack_skew` keeps them and :func:`unpack_skew` rebuilds :math:`S`
exactly, which halves what a checkpoint of an SOC network stores
(:func:`lipviz.train.compact_checkpoint`).
"""

from __future__ import annotations

import math
import numbers

import torch

__all__ = ["pack_skew", "skew_half_size", "unpack_skew"]


def skew_half_size(shape) -> int:
    r"""How many values determine a skew-symmetric filter of this shape: :math:`(M^2k^2 - M)/2`.

    Computed from the shape alone (nothing is allocated), so a stored half can be checked
    against a shape read from disk before anything of that shape is built.

    Parameters
    ----------
    shape : sequence of int
        ``(M, M, k, k)`` with ``M >= 1`` and ``k`` odd.

    Returns
    -------
    int
        The length of :func:`pack_skew`'s result for a filter of this shape.

    Raises
    ------
    ValueError
        If ``shape`` is not a square filter with an odd kernel.

    Examples
    --------
    >>> skew_half_size((4, 4, 3, 3)), skew_half_size((1, 1, 1, 1))
    (70, 0)
    """
    dims = tuple(shape)
    if not (
        len(dims) == 4
        and all(isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in dims)
        and all(n > 0 for n in dims)
        and dims[0] == dims[1]
        and dims[2] == dims[3]
        and dims[2] % 2 == 1
    ):
        msg = f"a skew-symmetric filter is a square filter (M, M, k, k) with k odd, got {dims}"
        raise ValueError(msg)
    m, k = int(dims[0]), int(dims[2])
    return (m * m * k * k - m) // 2


def _partner(shape) -> torch.Tensor:
    r"""The flat index of each entry's image under :math:`W \mapsto W^*` (channels swapped,
    kernel rotated by 180 degrees), an involution of a square filter's entries."""
    return torch.arange(math.prod(shape)).view(shape).transpose(0, 1).flip(2, 3).flatten()


def pack_skew(weight: torch.Tensor) -> torch.Tensor:
    r"""The independent half of the skew-symmetric part of a square filter.

    :math:`S = \tfrac12 (W - W^*)` is computed as the SOC layer computes it, so the layer with
    weight :math:`S` has bit for bit the filter it had with weight :math:`W`; the result holds
    the :math:`(M^2 k^2 - M)/2` entries of :math:`S` whose flat index is smaller than their
    partner's (:func:`skew_half_size`).

    Parameters
    ----------
    weight : Tensor
        Shape ``(M, M, k, k)``, ``k`` odd.

    Returns
    -------
    Tensor
        1-D, the entries of :math:`S` at the flat indices smaller than their partner's.

    Raises
    ------
    ValueError
        If ``weight`` is not a square filter with an odd kernel.

    Examples
    --------
    >>> w = torch.randn(4, 4, 3, 3)
    >>> half = pack_skew(w)
    >>> half.numel(), w.numel()
    (70, 144)
    >>> s = unpack_skew(half, w.shape)
    >>> torch.equal(s, 0.5 * (w - w.transpose(0, 1).flip(2, 3)))
    True
    """
    skew_half_size(weight.shape)
    skew = 0.5 * (weight - weight.transpose(0, 1).flip(2, 3))
    partner = _partner(weight.shape).to(weight.device)
    keep = torch.arange(weight.numel(), device=weight.device) < partner
    return skew.flatten()[keep].clone()


def unpack_skew(half: torch.Tensor, shape) -> torch.Tensor:
    """The skew-symmetric filter whose independent half :func:`pack_skew` returned.

    The half's size is checked against ``shape`` arithmetically before anything of that shape
    is allocated, so a shape read from an untrusted file cannot make it allocate more than the
    half itself justifies.

    Parameters
    ----------
    half : Tensor
        1-D, as returned by :func:`pack_skew` (any floating dtype; the result has its dtype).
    shape : sequence of int
        The filter's shape ``(M, M, k, k)``, ``k`` odd.

    Returns
    -------
    Tensor
        :math:`S` of shape ``shape``, with :math:`S^* = -S` exactly.

    Raises
    ------
    ValueError
        If ``shape`` is not a square filter with an odd kernel, or ``half`` has the wrong size.

    Examples
    --------
    >>> unpack_skew(torch.tensor([1.0, 2.0, 3.0, 4.0]), (1, 1, 3, 3))[0, 0]
    tensor([[ 1.,  2.,  3.],
            [ 4.,  0., -4.],
            [-3., -2., -1.]])
    """
    size = skew_half_size(shape)
    if half.dim() != 1 or half.numel() != size:
        msg = f"{size} values make a {tuple(shape)} filter, got {half.numel()}"
        raise ValueError(msg)
    dims = tuple(int(n) for n in shape)
    partner = _partner(dims).to(half.device)
    keep = torch.arange(len(partner), device=half.device) < partner
    full = torch.zeros(len(partner), dtype=half.dtype, device=half.device)
    full[keep] = half
    full[partner[keep]] = -half
    return full.view(dims)
