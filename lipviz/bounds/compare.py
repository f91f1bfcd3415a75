"""Side-by-side estimators of one operator's norm, exact references for small cases, and
empirical lower bounds on a network's Lipschitz constant (for teaching and tests)."""

from __future__ import annotations

import time

import torch
from torch import nn

from ..functional import conv_norm_fft, operator_power_iteration, reshaped_kernel_bounds
from ..state import frozen
from .rules import layer_bound

__all__ = ["compare_estimators", "exact_operator_norm", "local_jacobian_norms"]


def exact_operator_norm(module: nn.Module, input_shape) -> float:
    """The exact l2 norm of a *linear* module (bias ignored) from its dense Jacobian (SVD).

    Only for small inputs: the Jacobian has ``prod(out) x prod(in)`` entries.
    """
    from torch.func import jacrev

    x = torch.zeros((1, *input_shape), dtype=torch.float64)
    mod = _float64_copy(module)
    jac = jacrev(lambda v: mod(v).flatten())(x)
    return float(torch.linalg.matrix_norm(jac.detach().reshape(jac.shape[0], -1), 2))


def _float64_copy(module):
    import copy

    return copy.deepcopy(module).double().eval()


def compare_estimators(module: nn.Module, input_shape, n_iters=(1, 5, 20, 100), exact=True):
    """A DataFrame comparing the ways to get the norm of one Linear/Conv2d layer.

    Rows: power iteration with each number of steps (estimates, never above the truth), the
    sound bound lipviz uses, the cheap reshaped-kernel bounds, the stride-1 FFT bound, and the
    exact value from the dense Jacobian when ``exact`` (small inputs only). Columns: ``method``,
    ``value``, ``sound``, ``seconds`` and ``ratio`` (value / exact).
    """
    import pandas as pd

    rows = []

    def timed(method, fn, sound):
        start = time.perf_counter()
        value = fn()
        seconds = time.perf_counter() - start
        rows.append({"method": method, "value": float(value), "sound": sound, "seconds": seconds})

    mod = _float64_copy(module)
    is_conv = isinstance(module, nn.Conv2d)

    def op(v):
        if is_conv:
            return nn.functional.conv2d(
                v, mod.weight, None, mod.stride, mod.padding, mod.dilation, mod.groups
            )
        return nn.functional.linear(v, mod.weight)

    for n in n_iters:

        def estimate(n=n):
            return operator_power_iteration(op, input_shape, n_iter=n)[0]

        timed(f"power iteration, {n} steps", estimate, False)
    timed("sound bound (lipviz)", lambda: layer_bound(module, input_shape, "sound").value, True)
    if is_conv:
        w = module.weight
        cheap = reshaped_kernel_bounds(w, module.stride, module.dilation, module.groups)
        for name, value in cheap.items():
            row = {"method": f"reshaped kernel x {name}", "value": value, "sound": True}
            rows.append(row | {"seconds": float("nan")})

        def unstrided():
            return conv_norm_fft(w, input_shape[1:], module.padding, module.dilation, module.groups)

        timed("FFT, ignoring the stride", unstrided, True)
    table = pd.DataFrame(rows)
    if exact:
        ref = exact_operator_norm(module, input_shape)
        row = {"method": "exact (dense Jacobian SVD)", "value": ref, "sound": True}
        table.loc[len(table)] = row | {"seconds": float("nan")}
        table["ratio"] = table["value"] / ref
    return table


def local_jacobian_norms(model: nn.Module, x: torch.Tensor, n_iter: int = 30) -> torch.Tensor:
    r"""Spectral norm of the Jacobian of ``model`` at each input, by batched power iteration.

    Each value is a *lower* bound on the Lipschitz constant (the power-iteration under-estimate
    only lowers it further): :math:`\|J_f(x)\|_2 \le \mathrm{Lip}(f)`. The model must treat
    the rows of a batch independently (eval mode).
    """
    from torch.func import jvp, vjp

    with frozen(model):
        gen = torch.Generator().manual_seed(0)
        v = torch.randn(x.shape, generator=gen).to(x)
        shape = (-1,) + (1,) * (x.dim() - 1)
        sigma = torch.zeros(len(x))
        for _ in range(n_iter):
            v = v / v.flatten(1).norm(dim=1).clamp_min(1e-30).view(shape)
            _, jv = jvp(model, (x,), (v,))
            _, pullback = vjp(model, x)
            (v,) = pullback(jv)
            sigma = jv.flatten(1).norm(dim=1)
    return sigma.detach()
