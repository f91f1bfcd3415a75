"""The bound rules of torch's own layers (l2 norm, for a given input shape), and
:func:`layer_bound`, which applies the registered rule of any module.

Rules are registered in :mod:`lipviz.bounds.registry`; lipviz's own layers register theirs
beside their definitions. A module with no rule is an error, never a silent 1.
"""

from __future__ import annotations

from torch import nn

from ..functional import power_iteration, spectral_norm_exact
from .context import DEFAULT_N_ITER, MODES, BoundContext, LayerBound
from .guards import check_hooks, current_weight
from .registry import find_rule, register_bound

__all__ = ["layer_bound"]


def layer_bound(
    module: nn.Module, in_shape: tuple[int, ...], mode: str = "sound", n_iter: int = DEFAULT_N_ITER
) -> LayerBound:
    r"""The Lipschitz bound of one module for inputs of shape ``in_shape`` (no batch dimension).

    The module's registered rule is applied directly, without running the module; for an
    ``nn.Linear`` it is :math:`\|W\|_2`, exactly (SVD) in ``sound`` mode.

    Parameters
    ----------
    module : nn.Module
        Any module with a registered bound rule.
    in_shape : tuple of int
        The input shape without the batch dimension, e.g. ``(3, 32, 32)``.
    mode : {"sound", "estimate"}
        ``sound``: a guaranteed upper bound; ``estimate``: power iteration (may under-estimate).
    n_iter : int
        Power-iteration steps of ``estimate`` mode.

    Returns
    -------
    LayerBound
        ``value`` (a float), ``method`` and ``sound``.

    Raises
    ------
    ValueError
        For an unknown ``mode`` (or an ``in_shape`` the rule rejects).
    TypeError
        If no rule is registered for the module's type, the module's class overrides a
        method of the registered type without registering its own rule, or the module has
        hooks lipviz cannot account for.

    Examples
    --------
    >>> import torch
    >>> lin = nn.Linear(2, 2, bias=False)
    >>> _ = lin.weight.data.copy_(torch.tensor([[3.0, 0.0], [0.0, 1.0]]))
    >>> layer_bound(lin, (2,)).value
    3.0
    """
    if mode not in MODES:
        msg = f"Unknown bound mode {mode!r}; use one of {MODES}"
        raise ValueError(msg)
    check_hooks(module, type(module).__name__)
    return find_rule(module)(module, BoundContext(tuple(in_shape), mode, n_iter))


# --- rules ------------------------------------------------------------------------------------


@register_bound(nn.Linear)
def _linear(module: nn.Linear, ctx: BoundContext) -> LayerBound:
    r""":math:`\|W\|_2`: exact SVD (sound), power iteration (estimate), or the persistent-vector
    estimate :math:`\|W u\|` with gradients (differentiable)."""
    if ctx.in_shape[-1] != module.in_features:
        msg = (
            f"{module!r} got inputs of shape {ctx.in_shape}, last dim must be {module.in_features}"
        )
        raise ValueError(msg)
    weight = current_weight(module)
    if ctx.mode == "differentiable":
        value = ctx.vectors.sigma(ctx, lambda v: nn.functional.linear(v, weight))
        return LayerBound(value, "persistent power iteration", False)
    if ctx.mode == "sound":
        return LayerBound(float(spectral_norm_exact(weight)), "exact SVD", True)
    sigma, _ = power_iteration(weight.double(), n_iter=ctx.n_iter)
    return LayerBound(float(sigma), f"power iteration ({ctx.n_iter} steps)", False)


@register_bound(
    nn.ReLU, nn.Tanh, nn.Identity, nn.Dropout, nn.Dropout2d, nn.Flatten, nn.Unflatten, nn.ZeroPad2d
)
def _one(module, ctx) -> LayerBound:
    return LayerBound(1.0, "1 (analytic)", True)


@register_bound(nn.Hardtanh, nn.Softplus)
def _slope_one(module, ctx) -> LayerBound:
    return LayerBound(1.0, "1 (slopes in [0, 1])", True)


@register_bound(nn.ELU)
def _elu(module: nn.ELU, ctx) -> LayerBound:
    return LayerBound(max(1.0, abs(module.alpha)), "max(1, |alpha|)", True)


@register_bound(nn.LeakyReLU)
def _leaky(module: nn.LeakyReLU, ctx) -> LayerBound:
    return LayerBound(max(1.0, abs(module.negative_slope)), "max(1, |slope|)", True)


@register_bound(nn.Sigmoid)
def _sigmoid(module, ctx) -> LayerBound:
    return LayerBound(0.25, "1/4 (max of sigmoid')", True)
