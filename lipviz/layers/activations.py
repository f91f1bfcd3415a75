"""Gradient-norm-preserving activations: GroupSort, MaxMin and Householder of orders 1 and 2."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..bounds.context import LayerBound
from ..bounds.registry import register_bound

__all__ = ["GroupSort", "Householder", "Householder2", "MaxMin", "group_sort"]


def group_sort(x: torch.Tensor, group_size: int, dim: int = 1) -> torch.Tensor:
    r"""Sort each consecutive group of ``group_size`` entries along ``dim`` (descending).

    A permutation of its input on every linear piece, so it is 1-Lipschitz in l2 and preserves
    gradient norms (Anil, Lucas and Grosse, ICML 2019):

    .. math:: \|\mathrm{GroupSort}(x) - \mathrm{GroupSort}(y)\|_2 \le \|x - y\|_2 .

    Parameters
    ----------
    x : Tensor
        Any shape, with ``x.shape[dim]`` divisible by ``group_size``; e.g. ``(N, C)`` or
        ``(N, C, H, W)``.
    group_size : int
        Entries per group (2 gives MaxMin).
    dim : int
        The (non-negative) dimension whose consecutive entries are grouped; default 1,
        channels.

    Returns
    -------
    Tensor
        Same shape as ``x``.

    Raises
    ------
    ValueError
        If ``x.shape[dim]`` is not divisible by ``group_size``.

    Examples
    --------
    >>> group_sort(torch.tensor([[1.0, 3.0, 2.0, 0.0]]), 2).tolist()
    [[3.0, 1.0, 2.0, 0.0]]
    """
    n = x.shape[dim]
    if n % group_size:
        msg = f"size {n} along dim {dim} is not divisible by the group size {group_size}"
        raise ValueError(msg)
    shape = list(x.shape)
    shape[dim : dim + 1] = [n // group_size, group_size]
    return x.reshape(shape).sort(dim=dim + 1, descending=True).values.reshape(x.shape)


class GroupSort(nn.Module):
    """GroupSort activation over channels (dim 1); 1-Lipschitz and gradient-norm-preserving.

    Sorts each group of ``group_size`` consecutive channels in descending order
    (:func:`group_sort`); Anil, Lucas and Grosse, ICML 2019. Its bound is exactly 1.

    Parameters
    ----------
    group_size : int
        Channels per group, at least 2; the channel count must be divisible by it. Inputs have
        shape ``(N, C, ...)`` (e.g. ``(N, C)`` or ``(N, C, H, W)``); outputs the same shape.

    Examples
    --------
    >>> GroupSort(4)(torch.tensor([[1.0, 3.0, 2.0, 0.0]])).tolist()
    [[3.0, 2.0, 1.0, 0.0]]
    """

    def __init__(self, group_size: int = 2):
        super().__init__()
        if group_size < 2:
            msg = f"group_size must be >= 2, got {group_size}"
            raise ValueError(msg)
        self.group_size = group_size

    def to_plain(self) -> nn.Module:
        """Already plain (a fixed function, no parameters): itself."""
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return group_sort(x, self.group_size, dim=1)

    def lipschitz_bound(self, in_shape: tuple[int, ...] | None = None) -> float:
        """The exact l2 Lipschitz constant.

        Parameters
        ----------
        in_shape : tuple of int, optional
            Ignored: the constant holds at every input shape
            (:class:`~lipviz.bounds.SelfBounded`).

        Returns
        -------
        float
            1.0.
        """
        return 1.0

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"


class MaxMin(GroupSort):
    """MaxMin: GroupSort with groups of 2, i.e. (max(a, b), min(a, b)) for each channel pair.

    The pairs are consecutive channels ``(2i, 2i + 1)``; the channel count must be even
    (Anil, Lucas and Grosse, ICML 2019). It takes no arguments; inputs have shape
    ``(N, C, ...)`` and outputs the same shape.

    Examples
    --------
    >>> MaxMin()(torch.tensor([[1.0, 3.0, 2.0, 0.0]])).tolist()
    [[3.0, 1.0, 2.0, 0.0]]
    """

    def __init__(self):
        super().__init__(2)

    def extra_repr(self) -> str:
        return ""


@register_bound(GroupSort)
def _groupsort_bound(module, ctx) -> LayerBound:
    return LayerBound(1.0, "1 (a permutation on each piece)", True)


class Householder(nn.Module):
    r"""Householder activation of order 1 (HH; Singla, Singla and Feizi, ICLR 2022).

    Channels are paired as :math:`(x_i, y_i) = (z_i, z_{i + C/2})`. With one learned angle
    :math:`\theta_i` per pair and :math:`v = (\sin\tfrac\theta2, -\cos\tfrac\theta2)`, a pair is
    reflected, :math:`z \mapsto (I - 2vv^\top) z`, where :math:`v^\top z > 0` and left unchanged
    elsewhere. The two pieces agree on :math:`v^\top z = 0`, so the map is continuous and
    piecewise orthogonal: 1-Lipschitz and gradient-norm-preserving. At :math:`\theta = \pi/2` it
    outputs :math:`(\min, \max)` of each pair, i.e. MaxMin up to a channel permutation.

    Parameters
    ----------
    channels : int
        Number of channels :math:`C` (dimension 1 of the input), even. Inputs have shape
        ``(N, C, ...)``, e.g. ``(N, C)`` or ``(N, C, H, W)``; outputs the same shape.
    theta : float
        Initial value of every angle :math:`\theta_i` (a learned parameter of shape
        ``(C/2,)``); default :math:`\pi/2`.

    Examples
    --------
    >>> act = Householder(2)  # theta = pi/2: (min, max) of each pair
    >>> act(torch.tensor([[3.0, 1.0], [1.0, 3.0]])).detach().round(decimals=4).tolist()
    [[1.0, 3.0], [1.0, 3.0]]
    """

    def __init__(self, channels: int, theta: float = math.pi / 2):
        super().__init__()
        if channels % 2:
            msg = f"Householder needs an even number of channels, got {channels}"
            raise ValueError(msg)
        self.channels = channels
        self.theta = nn.Parameter(torch.full((channels // 2,), float(theta)))

    def to_plain(self) -> nn.Module:
        """Already plain (a fixed piecewise reflection of its angles): itself."""
        return self

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.shape[1] != self.channels:
            msg = f"Householder expects {self.channels} channels, got {z.shape[1]}"
            raise ValueError(msg)
        x, y = z.chunk(2, dim=1)
        shape = (1, -1) + (1,) * (z.dim() - 2)
        t = self.theta.view(shape)
        s = torch.sin(t / 2) * x - torch.cos(t / 2) * y
        rx = torch.cos(t) * x + torch.sin(t) * y
        ry = torch.sin(t) * x - torch.cos(t) * y
        reflect = s > 0
        return torch.cat([torch.where(reflect, rx, x), torch.where(reflect, ry, y)], dim=1)

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


def _reflect(x, y, a):
    """Reflection of (x, y) across the line at angle a/2: polar angle phi -> a - phi."""
    return torch.cos(a) * x + torch.sin(a) * y, torch.sin(a) * x - torch.cos(a) * y


class Householder2(nn.Module):
    r"""Householder activation of order 2 (Singla, Singla and Feizi, ICLR 2022).

    Each channel pair :math:`(x, y) = (z_i, z_{i + C/2})` is split into four angular
    sectors around the origin by three learned angles
    :math:`\theta_0, \theta_1, \theta_2 \in [0, 2\pi]`. With
    :math:`\varphi = (\operatorname{atan2}(y, x) - \theta_0/2) \bmod 2\pi`, the sectors
    :math:`[0, \tfrac{\theta_1}2)`, :math:`[\tfrac{\theta_1}2, \tfrac{\theta_1+\theta_2}2)`,
    :math:`[\tfrac{\theta_1+\theta_2}2, \pi + \tfrac{\theta_2}2)` and
    :math:`[\pi + \tfrac{\theta_2}2, 2\pi)` apply, in order: the identity, the reflection
    :math:`\psi \mapsto \theta_0 + \theta_1 - \psi` of the polar angle :math:`\psi`, the
    rotation by :math:`-\theta_2`, and the reflection :math:`\psi \mapsto \theta_0 - \psi`.
    Consecutive pieces agree on every sector boundary (the rotation must be by
    :math:`-\theta_2` for that), so the map is continuous and piecewise orthogonal, hence
    1-Lipschitz and gradient-norm-preserving.

    Parameters
    ----------
    channels : int
        Number of channels :math:`C` (dimension 1 of the input), even. Inputs have shape
        ``(N, C, ...)``, e.g. ``(N, C)`` or ``(N, C, H, W)``; outputs the same shape.
    seed : int, optional
        Seed of the initial angles (a learned parameter of shape ``(3, C/2)``, drawn uniformly
        in :math:`[0, \pi)`); ``None`` means 0. They are clamped to :math:`[0, 2\pi]` in the
        forward pass.

    Examples
    --------
    >>> act = Householder2(2)
    >>> z = torch.randn(5, 2)
    >>> torch.allclose(act(z).norm(dim=1), z.norm(dim=1), atol=1e-6)
    True
    """

    def __init__(self, channels: int, seed: int | None = None):
        super().__init__()
        if channels % 2:
            msg = f"Householder2 needs an even number of channels, got {channels}"
            raise ValueError(msg)
        self.channels = channels
        gen = torch.Generator().manual_seed(0 if seed is None else seed)
        self.theta = nn.Parameter(math.pi * torch.rand(3, channels // 2, generator=gen))

    def to_plain(self) -> nn.Module:
        """Already plain (a fixed piecewise-orthogonal map of its angles): itself."""
        return self

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() < 2 or z.shape[1] != self.channels:
            msg = f"Householder2 expects (N, {self.channels}, ...), got {tuple(z.shape)}"
            raise ValueError(msg)
        x, y = z.chunk(2, dim=1)
        shape = (3, 1, -1) + (1,) * (z.dim() - 2)
        t0, t1, t2 = self.theta.clamp(0.0, 2 * math.pi).view(shape)
        phi = torch.remainder(torch.atan2(y, x) - t0 / 2, 2 * math.pi)
        pieces = [
            (x, y),
            _reflect(x, y, t0 + t1),
            (torch.cos(t2) * x + torch.sin(t2) * y, -torch.sin(t2) * x + torch.cos(t2) * y),
            _reflect(x, y, t0),
        ]
        ends = (t1 / 2, (t1 + t2) / 2, math.pi + t2 / 2)
        out_x, out_y = pieces[3]
        for (px, py), end in zip(pieces[2::-1], ends[::-1], strict=True):
            inside = phi < end
            out_x, out_y = torch.where(inside, px, out_x), torch.where(inside, py, out_y)
        return torch.cat([out_x, out_y], dim=1)

    def extra_repr(self) -> str:
        return f"channels={self.channels}"


@register_bound(Householder, Householder2)
def _householder_bound(module, ctx) -> LayerBound:
    return LayerBound(1.0, "1 (piecewise orthogonal, continuous)", True)


def _maxmin_local(module, ctx):
    from .clipped import maxmin_local

    return maxmin_local(module, ctx)


register_bound(GroupSort, kind="local")(_maxmin_local)
