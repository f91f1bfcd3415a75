"""Residual addition and concatenation blocks, with their composition rules beside them."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..bounds.context import LayerBound
from ..bounds.registry import register_bound

__all__ = ["Concat", "Residual"]


class Residual(nn.Module):
    r"""Residual block ``branch(x) + shortcut(x)``; the shortcut defaults to the identity.

    By the triangle inequality,

    .. math:: \mathrm{Lip} \le \mathrm{Lip}(\text{branch}) + \mathrm{Lip}(\text{shortcut}),

    the rule :func:`lipviz.lipschitz_bound` applies to it. Both parts must give outputs of the
    same shape (no broadcasting).

    Parameters
    ----------
    branch : nn.Module
        The residual branch; maps inputs ``(N, ...)`` to outputs of the shortcut's shape.
    shortcut : nn.Module, optional
        The shortcut; ``None`` (default) means ``nn.Identity()``.

    Examples
    --------
    >>> from lipviz import lipschitz_bound
    >>> lin = nn.Linear(2, 2, bias=False)
    >>> _ = lin.weight.data.copy_(2 * torch.eye(2))
    >>> lipschitz_bound(Residual(lin), (2,)).value  # 2 + 1
    3.0
    """

    def __init__(self, branch: nn.Module, shortcut: nn.Module | None = None):
        super().__init__()
        self.branch = branch
        self.shortcut = shortcut if shortcut is not None else nn.Identity()

    def to_plain(self) -> nn.Module:
        """The same block; :func:`lipviz.to_plain` exports its parts."""
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.branch(x) + self.shortcut(x)


class Concat(nn.Module):
    r"""Concatenate the outputs of several branches along ``dim``.

    Since the squared l2 distance of the concatenated outputs is the sum of the branches' ones,

    .. math:: \mathrm{Lip} \le \sqrt{\textstyle\sum_i \mathrm{Lip}(\text{branch}_i)^2},

    the rule :func:`lipviz.lipschitz_bound` applies to it.

    Parameters
    ----------
    *branches : nn.Module
        At least one branch, all applied to the same input ``(N, ...)``; their outputs must
        agree in every dimension but ``dim``.
    dim : int
        The dimension to concatenate along (default 1, channels); never the batch dimension.

    Examples
    --------
    >>> from lipviz import lipschitz_bound
    >>> a, b = nn.Linear(2, 2, bias=False), nn.Linear(2, 2, bias=False)
    >>> _ = a.weight.data.copy_(3 * torch.eye(2)), b.weight.data.copy_(4 * torch.eye(2))
    >>> block = Concat(a, b)
    >>> block(torch.ones(1, 2)).shape, lipschitz_bound(block, (2,)).value  # sqrt(9 + 16)
    (torch.Size([1, 4]), 5.0)
    """

    def __init__(self, *branches: nn.Module, dim: int = 1):
        super().__init__()
        if not branches:
            msg = "Concat needs at least one branch"
            raise ValueError(msg)
        self.branches = nn.ModuleList(branches)
        self.dim = dim

    def to_plain(self) -> nn.Module:
        """The same block; :func:`lipviz.to_plain` exports its branches."""
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([b(x) for b in self.branches], dim=self.dim)


def _sqrt(value):
    return torch.sqrt(value) if isinstance(value, torch.Tensor) else math.sqrt(value)


@register_bound(Residual, kind="composite")
def _residual(walker, block: Residual, x, ctx) -> tuple:
    r""":math:`\mathrm{Lip}(b + s) \le \mathrm{Lip}(b) + \mathrm{Lip}(s)`, for outputs of equal
    shape (broadcasting would repeat entries and break the sum rule)."""
    label = ctx.name or "Residual"
    version, first = x._version, len(walker.inplace)
    vb, sb, yb = walker.walk(block.branch, x, ctx.part("branch", nested=True))
    vs, ss, ys = walker.walk(block.shortcut, x, ctx.part("shortcut", nested=True))
    walker.check_unmodified(x, version, first, label)
    if yb.shape != ys.shape:
        msg = (
            f"{label}: the branch gives {tuple(yb.shape[1:])} but the shortcut gives "
            f"{tuple(ys.shape[1:])}; broadcasting them breaks the sum rule. Make both parts "
            "output the same shape (e.g. a 1x1 convolution or pooling on the shortcut)."
        )
        raise ValueError(msg)
    out = yb + ys
    lb = LayerBound(vb + vs, "sum of branch bounds (residual)", sb and ss)
    walker.row(ctx, block, x, out, lb)
    return lb.value, lb.sound, out


@register_bound(Concat, kind="composite")
def _concat(walker, block: Concat, x, ctx) -> tuple:
    r""":math:`\mathrm{Lip}([f; g]) \le \sqrt{\mathrm{Lip}(f)^2 + \mathrm{Lip}(g)^2}`, along any
    dimension but the batch dimension."""
    label = ctx.name or "Concat"
    version, first = x._version, len(walker.inplace)
    values, sound, outs = [], True, []
    for i, sub in enumerate(block.branches):
        v, s, y = walker.walk(sub, x, ctx.part(str(i), nested=True))
        values.append(v)
        sound &= s
        outs.append(y)
    walker.check_unmodified(x, version, first, label)
    if block.dim % outs[0].dim() == 0:
        msg = f"{label}: concatenating along the batch dimension (dim={block.dim})"
        raise ValueError(msg)
    out = torch.cat(outs, dim=block.dim)
    lb = LayerBound(_sqrt(sum(v * v for v in values)), "sqrt(sum l^2) (concat)", sound)
    walker.row(ctx, block, x, out, lb)
    return lb.value, lb.sound, out
