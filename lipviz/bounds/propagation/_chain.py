"""The model as a chain of affine operators (float64) separated by ReLUs; the propagation rules
of the affine layers (``register_bound(T, kind="propagation")``)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..context import BoundContext
from ..guards import check_hooks, current_weight
from ..registry import find_propagation_rule, register_bound, registered_types

__all__ = ["AffineMap", "chain", "forward"]


class AffineMap:
    r"""An affine module as an operator in float64, for bound propagation: ``linear(a) + bias``,
    with ``|W|`` applied the same way and the transpose.

    Registered per module type with ``@register_bound(T, kind="propagation")``
    (:mod:`lipviz.bounds.registry`); the rule builds it from the module and the input shape
    ``ctx.in_shape``.

    Parameters
    ----------
    shape_in : tuple of int
        The input shape without the batch dimension.
    linear : callable
        ``(B, *shape_in) -> (B, *shape_out)``, the linear part :math:`a \mapsto W a` (float64).
    abs_linear : callable
        :math:`a \mapsto |W| a`, the same map with the entries' magnitudes.
    bias : Tensor or None
        Broadcastable to ``(B, *shape_out)``.

    Examples
    --------
    >>> w = torch.tensor([[1.0, -2.0]], dtype=torch.float64)
    >>> op = AffineMap((2,), lambda a: a @ w.T, lambda a: a @ w.abs().T, None)
    >>> op.shape_out, op.transpose(torch.ones(1, 1, 1, dtype=torch.float64)).tolist()
    ((1,), [[[1.0, -2.0]]])
    """

    def __init__(self, shape_in: tuple[int, ...], linear, abs_linear, bias):
        self.shape_in = tuple(shape_in)
        self.linear, self.abs_linear, self.bias = linear, abs_linear, bias
        probe = torch.zeros((1, *self.shape_in), dtype=torch.float64)
        self.shape_out = tuple(linear(probe).shape[1:])
        self.terms = math.prod(self.shape_out) + math.prod(self.shape_in)  # per dot product, max

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        """``linear(a) + bias``."""
        out = self.linear(a)
        return out if self.bias is None else out + self.bias

    def transpose(self, lam: torch.Tensor) -> torch.Tensor:
        """Rows ``(B, R, *shape_out)`` times the matrix of ``linear``: ``(B, R, *shape_in)``."""
        b, r = lam.shape[:2]
        zeros = torch.zeros((b * r, *self.shape_in), dtype=lam.dtype)
        vjp = torch.func.vjp(self.linear, zeros)[1]
        return vjp(lam.reshape(b * r, *self.shape_out))[0].reshape(b, r, *self.shape_in)


@register_bound(nn.Flatten, kind="propagation")
def _flatten_map(module: nn.Flatten, ctx) -> AffineMap:
    shape = tuple(ctx.in_shape)
    start = module.start_dim - 1 if module.start_dim > 0 else module.start_dim
    end = module.end_dim - 1 if module.end_dim > 0 else module.end_dim
    if start not in (0, -len(shape)) or end not in (-1, len(shape) - 1):
        msg = "bound propagation supports nn.Flatten of all non-batch dimensions only"
        raise ValueError(msg)
    return AffineMap(shape, lambda a: a.flatten(1), lambda a: a.flatten(1), None)


@register_bound(nn.Linear, kind="propagation")
def _linear_map(module: nn.Linear, ctx) -> AffineMap:
    weight = current_weight(module).detach().double()
    bias = None if module.bias is None else module.bias.detach().double()
    return AffineMap(
        ctx.in_shape, lambda a: F.linear(a, weight), lambda a: F.linear(a, weight.abs()), bias
    )


@register_bound(nn.Conv2d, kind="propagation")
def _conv2d_map(module: nn.Conv2d, ctx) -> AffineMap:
    if module.padding_mode != "zeros" or isinstance(module.padding, str):
        msg = "bound propagation supports nn.Conv2d with numeric zero padding only"
        raise ValueError(msg)
    weight = current_weight(module).detach().double()
    bias = None if module.bias is None else module.bias.detach().double().view(-1, 1, 1)
    padding = tuple(int(p) for p in module.padding)

    def conv(a: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return F.conv2d(a, w, None, module.stride, padding, module.dilation, module.groups)

    return AffineMap(ctx.in_shape, lambda a: conv(a, weight), lambda a: conv(a, weight.abs()), bias)


_IDENTITY_TYPES = (nn.Identity, nn.Dropout)  # in evaluation


def _leaves(model: nn.Module, prefix: str = ""):
    if type(model) is nn.Sequential:  # a subclass may compute something else: a leaf
        check_hooks(model, prefix)
        for name, child in model.named_children():
            yield from _leaves(child, f"{prefix}.{name}" if prefix else name)
    else:
        yield prefix, model


def chain(model: nn.Module, input_shape: tuple[int, ...]) -> list[list[AffineMap]]:
    """The model as affine blocks separated by ReLUs (float64 operators).

    Parameters
    ----------
    model : nn.Module
        A chain of supported layers in nested ``nn.Sequential`` containers.
    input_shape : tuple of int
        The input shape without the batch dimension.

    Returns
    -------
    list of list of AffineMap
        The blocks, in order; a ReLU separates consecutive blocks.

    Raises
    ------
    TypeError
        For an unsupported layer (named).
    ValueError
        If the model does not end in logits ``(N, C)`` or a ReLU is not followed by an affine
        layer.
    """
    blocks: list[list[AffineMap]] = [[]]
    shape = input_shape
    for name, module in _leaves(model):
        check_hooks(module, name)
        if type(module) in _IDENTITY_TYPES:
            continue
        if type(module) is nn.ReLU:
            blocks.append([])
            continue
        rule = find_propagation_rule(module)
        if rule is None:
            names = sorted(t.__name__ for t in registered_types("propagation"))
            msg = (
                f"bound propagation does not support {type(module).__name__} "
                f"({name or 'the model'}); it supports ReLU, Identity, Dropout and "
                f"{', '.join(names)}, in nn.Sequential chains"
            )
            raise TypeError(msg)
        op = rule(module, BoundContext(shape))
        blocks[-1].append(op)
        shape = op.shape_out
    if len(shape) != 1:
        msg = f"the model must end in logits of shape (N, C), got (N, {', '.join(map(str, shape))})"
        raise ValueError(msg)
    if any(not ops for ops in blocks[1:]):
        msg = "bound propagation needs an affine layer after every ReLU"
        raise ValueError(msg)
    return blocks


def forward(blocks: list[list[AffineMap]], x: torch.Tensor) -> torch.Tensor:
    """The chain's output in float64 (ReLU between blocks).

    Parameters
    ----------
    blocks : list of list of AffineMap
        As :func:`chain` returns them.
    x : Tensor
        Inputs ``(B, *input_shape)``, float64.

    Returns
    -------
    Tensor
        The logits ``(B, C)``.
    """
    a = x
    for k, ops in enumerate(blocks):
        if k:
            a = a.clamp_min(0)
        for op in ops:
            a = op.forward(a)
    return a
