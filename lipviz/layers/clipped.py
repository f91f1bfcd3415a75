r"""Clipped activations with learned per-neuron thresholds (Local-Lip; Huang, Zhang, Shi, Kolter
and Anandkumar, NeurIPS 2021).

A threshold makes a neuron *constant* on a whole ball of inputs when its pre-activation stays
above it, so the neuron drops out of the local Lipschitz bound (:mod:`lipviz.bounds.local`).
Both activations are 1-Lipschitz: their global bound rule is 1.
"""

from __future__ import annotations

import torch
from torch import nn

from ..bounds.context import BoundContext, LayerBound
from ..bounds.local import at_least, at_most, clip_relu, pair_max_min
from ..bounds.registry import register_bound

__all__ = ["ClippedMaxMin", "ClippedReLU"]


def _shape(shape) -> tuple[int, ...]:
    shape = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
    if not shape or any(s <= 0 for s in shape):
        msg = f"shape must be the positive feature shape without the batch dim, got {shape}"
        raise ValueError(msg)
    return shape


class ClippedReLU(nn.Module):
    r""":math:`x \mapsto \min(\max(x, 0), \theta)` with a learned threshold per neuron.

    Parameters
    ----------
    shape : int or tuple of int
        The feature shape without the batch dimension, e.g. ``(32, 28, 28)`` or ``512``: one
        threshold per neuron.
    init : float
        The initial threshold. The Local-Lip code's ``ReLU_x`` defaults to 1.0, which its MNIST
        4C3F keeps (that builder ignores ``--init``); its CIFAR-10 6C2F runs pass 2.0.

    Attributes
    ----------
    theta : nn.Parameter
        Shape ``shape``; kept :math:`\ge 0` by :meth:`project_` (after each optimiser step).

    Examples
    --------
    >>> act = ClippedReLU(3, init=1.0)
    >>> act(torch.tensor([[-1.0, 0.5, 4.0]])).tolist()
    [[0.0, 0.5, 1.0]]
    """

    def __init__(self, shape, init: float = 1.0):
        super().__init__()
        self.theta = nn.Parameter(torch.full(_shape(shape), float(init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != tuple(self.theta.shape):
            msg = f"ClippedReLU expects (N, {tuple(self.theta.shape)}), got {tuple(x.shape)}"
            raise ValueError(msg)
        return clip_relu(x, self.theta)

    def project_(self) -> None:
        """Clamp the thresholds to :math:`\\theta \\ge 0` in place (after an optimiser step)."""
        with torch.no_grad():
            self.theta.clamp_(min=0.0)

    def to_plain(self) -> nn.Module:
        """Already plain (fixed thresholds): itself."""
        return self

    def extra_repr(self) -> str:
        return f"shape={tuple(self.theta.shape)}"


class ClippedMaxMin(nn.Module):
    r"""MaxMin on channel pairs with learned clips:
    :math:`(a, b) \mapsto (\min(\max(a, b), \theta_{\max}), \max(\min(a, b), \theta_{\min}))`.

    Channels ``2i`` and ``2i + 1`` form a pair, as in :class:`~lipviz.layers.MaxMin`.

    Parameters
    ----------
    shape : int or tuple of int
        The feature shape without the batch dimension; its first entry (channels) must be even.
    init_max, init_min : float
        Initial thresholds of the max half and of the min half.

    Attributes
    ----------
    theta_max, theta_min : nn.Parameter
        Shape ``(C // 2, *shape[1:])``: one threshold per output neuron of each half.

    Examples
    --------
    >>> act = ClippedMaxMin(2, init_max=1.0, init_min=-1.0)
    >>> act(torch.tensor([[3.0, -5.0], [0.5, 0.25]])).tolist()
    [[1.0, -1.0], [0.5, 0.25]]
    """

    def __init__(self, shape, init_max: float = 1.0, init_min: float = -1.0):
        super().__init__()
        shape = _shape(shape)
        if shape[0] % 2:
            msg = f"ClippedMaxMin pairs channels: their number must be even, got {shape[0]}"
            raise ValueError(msg)
        half = (shape[0] // 2, *shape[1:])
        self.theta_max = nn.Parameter(torch.full(half, float(init_max)))
        self.theta_min = nn.Parameter(torch.full(half, float(init_min)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = tuple(self.theta_max.shape)
        if x.dim() < 2 or (x.shape[1] // 2, *x.shape[2:]) != half or x.shape[1] % 2:
            msg = f"ClippedMaxMin expects (N, {2 * half[0]}, {half[1:]}), got {tuple(x.shape)}"
            raise ValueError(msg)
        hi, lo = pair_max_min(x[:, 0::2], x[:, 1::2])
        hi, lo = at_most(hi, self.theta_max), at_least(lo, self.theta_min)
        return torch.stack([hi, lo], dim=2).flatten(1, 2)

    def to_plain(self) -> nn.Module:
        """Already plain (fixed thresholds): itself."""
        return self

    def extra_repr(self) -> str:
        return f"pairs={tuple(self.theta_max.shape)}"


@register_bound(ClippedReLU, ClippedMaxMin)
def _clipped_bound(module, ctx: BoundContext) -> LayerBound:
    r"""1: a clip of a 1-Lipschitz map is 1-Lipschitz (slopes in :math:`\{0, 1\}`)."""
    return LayerBound(1.0, "1 (clipped, slopes in {0, 1})", True)


# --- local rules (lipviz.bounds.local): boxes, masks of fixed neurons ---------------------------


def _interleave(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    return torch.stack([first, second], dim=2).flatten(1, 2)


@register_bound(ClippedReLU, kind="local")
def _clipped_relu_local(module: ClippedReLU, ctx: BoundContext) -> LayerBound:
    r"""Fixed where the box has :math:`\overline{z} \le 0` (dead) or :math:`\underline{z} \ge
    \theta` (saturated); the row mask refines the previous affine factor."""
    from ..bounds.local import FOLDED, clip_box, close_pending, param, state_of

    st = state_of(ctx)
    theta = param(module.theta, st)[None]
    mu, lo, hi, varies = clip_box(st.mu, st.lo, st.hi, theta)
    if st.grad and st.sparsity is not None:  # sparsity: boxes below 0 or above the threshold
        st.sparsity.append(
            torch.relu(st.hi).mean() + st.sp_thres * torch.relu(theta - st.lo).mean()
        )
    one = close_pending(st, varies)
    st.mu, st.lo, st.hi = mu, lo, hi
    st.mask = varies if st.mask is None else st.mask & varies
    st.fixed.append({"layer": ctx.name, "varies": varies})
    return LayerBound(one, FOLDED, True)


def _pairs_local(st, ctx, theta_max=None, theta_min=None) -> LayerBound:
    from ..bounds.local import close_pending

    close_pending(st, None)  # a permutation per piece: no row mask for the previous layer
    lo_a, lo_b, hi_a, hi_b = st.lo[:, 0::2], st.lo[:, 1::2], st.hi[:, 0::2], st.hi[:, 1::2]
    mu_hi, mu_lo = pair_max_min(st.mu[:, 0::2], st.mu[:, 1::2])
    (top_lo, bot_lo), (top_hi, bot_hi) = pair_max_min(lo_a, lo_b), pair_max_min(hi_a, hi_b)
    if theta_max is not None and st.grad and st.sparsity is not None:
        st.sparsity.append(
            torch.relu(theta_max - top_lo).mean() + torch.relu(bot_hi - theta_min).mean()
        )
    if theta_max is not None:
        mu_hi, top_lo, top_hi = (at_most(t, theta_max) for t in (mu_hi, top_lo, top_hi))
        mu_lo, bot_lo, bot_hi = (at_least(t, theta_min) for t in (mu_lo, bot_lo, bot_hi))
    pair_varies = None if st.mask is None else st.mask[:, 0::2] | st.mask[:, 1::2]
    top_var, bot_var = top_hi > top_lo, bot_hi > bot_lo  # a degenerate box is a constant
    if pair_varies is not None:
        top_var, bot_var = top_var & pair_varies, bot_var & pair_varies
    st.mu, st.lo, st.hi = (
        _interleave(*p) for p in ((mu_hi, mu_lo), (top_lo, bot_lo), (top_hi, bot_hi))
    )
    st.mask = _interleave(top_var, bot_var)
    st.fixed.append({"layer": ctx.name, "varies": st.mask})
    one = torch.ones(len(st.mu), dtype=st.dtype, device=st.mu.device)
    return LayerBound(one, "1 (a permutation per piece; masks for the next layer)", True)


@register_bound(ClippedMaxMin, kind="local")
def _clipped_maxmin_local(module: ClippedMaxMin, ctx: BoundContext) -> LayerBound:
    r"""The max half is fixed where its box lies above :math:`\theta_{\max}`, the min half
    where it lies below :math:`\theta_{\min}`; a half whose pair is fixed is fixed too."""
    from ..bounds.local import param, state_of

    st = state_of(ctx)
    t_max, t_min = param(module.theta_max, st)[None], param(module.theta_min, st)[None]
    return _pairs_local(st, ctx, t_max, t_min)


def maxmin_local(module, ctx: BoundContext) -> LayerBound:
    """Local rule of MaxMin (GroupSort with groups of 2): output boxes of the pairs; an output
    varies only if one of its pair's inputs does."""
    from ..bounds.local import state_of

    if getattr(module, "group_size", 2) != 2:
        msg = f"{ctx.name}: local bounds support GroupSort with groups of 2 (MaxMin) only"
        raise TypeError(msg)
    return _pairs_local(state_of(ctx), ctx)
