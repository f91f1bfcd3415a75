"""A differentiable Lipschitz estimate for training, with persistent power-iteration vectors.

For each linear operator (Linear, Conv2d, Conv2d+BatchNorm2d fused) a unit vector ``u`` of the
operator's true input shape is kept as a buffer. The forward pass returns
:math:`\\sigma = \\|A u\\|`, differentiable in the weights, and, in training mode only, advances
``u`` by one power-iteration step (:math:`u \\leftarrow A^\\top A u / \\|A^\\top A u\\|`): one free
step per SGD step, as in LMT (Tsuzuku et al., 2018). It is an **estimate** (it under-estimates):
training uses it; certificates never do.
"""

from __future__ import annotations

import torch
from torch import nn

from ..bounds.rules import layer_bound
from ..layers.blocks import Residual
from ..state import eval_mode

__all__ = ["PowerIterationBound"]


def _linear_op(module: nn.Module, bn: nn.BatchNorm2d | None):
    if isinstance(module, nn.Linear):
        return lambda v: nn.functional.linear(v, module.weight)

    def op(v):
        out = nn.functional.conv2d(
            v, module.weight, None, module.stride, module.padding, module.dilation, module.groups
        )
        if bn is not None:
            gamma = bn.weight if bn.affine else torch.ones_like(bn.running_var)
            scale = gamma / torch.sqrt(bn.running_var + bn.eps)
            out = out * scale.view(1, -1, 1, 1)
        return out

    return op


class PowerIterationBound(nn.Module):
    """Differentiable per-layer Lipschitz estimates of ``model`` for inputs of ``input_shape``.

    Calling it returns ``(total, per_layer)`` where ``total`` is the product over the top-level
    sequence (residual blocks: sum of branches) and ``per_layer`` the list of per-operator
    :math:`\\sigma` (for spectral-norm regularisation). ``prefix()`` returns the product without
    the last layer (for the pairwise LMT form).
    """

    def __init__(self, model: nn.Sequential, input_shape):
        super().__init__()
        if not isinstance(model, nn.Sequential):
            msg = "PowerIterationBound needs an nn.Sequential model"
            raise TypeError(msg)
        self.model = [model]  # not a submodule: its parameters stay the model's
        self.input_shape = tuple(input_shape)
        self._plan: list = []
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad(), eval_mode(model):  # BN uses its running statistics, untouched
            x = torch.zeros((1, *self.input_shape), device=next(model.parameters()).device)
            self._plan = self._build(model, x, gen, "")

    def _build(self, seq, x, gen, prefix):
        plan, children, i = [], list(seq.named_children()), 0
        while i < len(children):
            name, module = children[i]
            nxt = children[i + 1][1] if i + 1 < len(children) else None
            key = f"{prefix}{name}".replace(".", "_")
            if isinstance(module, (nn.Linear, nn.Conv2d)):
                bn = (
                    nxt
                    if isinstance(module, nn.Conv2d) and isinstance(nxt, nn.BatchNorm2d)
                    else None
                )
                u = torch.randn(x.shape, generator=gen).to(x)
                self.register_buffer(f"u_{key}", u / u.norm())
                plan.append(("linear", module, bn, f"u_{key}"))
                x = module(x) if bn is None else bn(module(x))
                i += 2 if bn is not None else 1
                continue
            if isinstance(module, nn.Sequential):
                sub = self._build(module, x, gen, f"{key}_")
                plan.append(("seq", sub))
            elif isinstance(module, Residual):
                branch = self._build(nn.Sequential(module.branch), x, gen, f"{key}_b")
                short = self._build(nn.Sequential(module.shortcut), x, gen, f"{key}_s")
                plan.append(("residual", branch, short))
            else:
                value = layer_bound(module, tuple(x.shape[1:]), "sound").value
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    plan.append(("bn", module))
                else:
                    plan.append(("const", value))
            x = module(x)
            i += 1
        return plan

    def _sigma(self, module, bn, key):
        op = _linear_op(module, bn)
        u = getattr(self, key)
        sigma = op(u.clone()).norm()  # the clone keeps autograd's copy safe from the update
        if self.training:
            with torch.enable_grad():
                v = u.detach().requires_grad_(True)
                out = _linear_op(module, bn)(v)
                (g,) = torch.autograd.grad(out, v, grad_outputs=out.detach())
            with torch.no_grad():
                u.copy_(g / g.norm().clamp_min(1e-12))
        return sigma

    def _run(self, plan, sigmas):
        total = None
        for step in plan:
            kind = step[0]
            if kind == "linear":
                value = self._sigma(*step[1:])
                sigmas.append(value)
            elif kind == "seq":
                value = self._run(step[1], sigmas)
            elif kind == "residual":
                value = self._run(step[1], sigmas) + self._run(step[2], sigmas)
            elif kind == "bn":
                value = bn_scale_differentiable(step[1])
            else:
                value = torch.tensor(step[1])
            total = value if total is None else total * value
        return total if total is not None else torch.tensor(1.0)

    def forward(self):
        sigmas: list[torch.Tensor] = []
        return self._run(self._plan, sigmas), sigmas

    def prefix(self):
        """The estimate without the last top-level step (which must be a Linear)."""
        if not self._plan or self._plan[-1][0] != "linear":
            msg = "the pairwise form needs a model whose last layer is nn.Linear"
            raise ValueError(msg)
        sigmas: list[torch.Tensor] = []
        return self._run(self._plan[:-1], sigmas)


def bn_scale_differentiable(bn) -> torch.Tensor:
    """max |γ|/sqrt(running_var + eps), differentiable in γ."""
    gamma = bn.weight if bn.affine else torch.ones_like(bn.running_var)
    return (gamma / torch.sqrt(bn.running_var + bn.eps)).abs().max()
