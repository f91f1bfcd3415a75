r"""Exact references from dense Jacobians, for small inputs: operator norms, local gradient
norms, and the singular values of an SOC layer as its Taylor series is truncated.

These are oracles (tests and teaching compare every bound against them), never certificates:
:func:`local_jacobian_norms` gives lower bounds on the Lipschitz constant.
"""

from __future__ import annotations

import torch
from torch import nn

from ..state import eval_mode, frozen

__all__ = ["exact_operator_norm", "float64_copy", "local_jacobian_norms", "truncation_table"]


def exact_operator_norm(module: nn.Module, input_shape) -> float:
    r"""The exact l2 norm of a *linear* module (bias ignored) from its dense Jacobian (SVD).

    Only for small inputs: the Jacobian has ``prod(out) x prod(in)`` entries. It returns
    :math:`\|J\|_2 = \sigma_{\max}(J)` with :math:`J` the Jacobian at 0, in float64, of a copy of
    the module in eval mode; for a linear module that is its operator norm.

    Parameters
    ----------
    module : nn.Module
        A linear (or affine) module, e.g. a ``Conv2d``; it is not modified.
    input_shape : tuple of int
        Shape of one input without the batch dimension, e.g. ``(C, H, W)``.

    Returns
    -------
    float
        The largest singular value of the Jacobian.
    """
    from torch.func import jacrev

    x = torch.zeros((1, *input_shape), dtype=torch.float64)
    mod = float64_copy(module)
    jac = jacrev(lambda v: mod(v).flatten())(x)
    return float(torch.linalg.matrix_norm(jac.detach().reshape(jac.shape[0], -1), 2))


def float64_copy(module):
    """A float64 deep copy of ``module`` in eval mode (the original is left as it is).

    Parameters
    ----------
    module : nn.Module

    Returns
    -------
    nn.Module
    """
    import copy

    return copy.deepcopy(module).double().eval()


def local_jacobian_norms(model: nn.Module, x: torch.Tensor, n_iter: int = 30) -> torch.Tensor:
    r"""Spectral norm of the Jacobian of ``model`` at each input, by batched power iteration.

    Each value is a *lower* bound on the Lipschitz constant (the power-iteration under-estimate
    only lowers it further): :math:`\|J_f(x)\|_2 \le \mathrm{Lip}(f)`. The model must treat
    the rows of a batch independently (eval mode).

    Parameters
    ----------
    model : nn.Module
        The model (run in eval mode, without gradients into its parameters).
    x : Tensor
        Inputs, shape ``(N, ...)``, e.g. ``(N, C, H, W)``.
    n_iter : int
        Power-iteration steps (from a fixed random start, seed 0).

    Returns
    -------
    Tensor
        Shape ``(N,)``: the estimate of :math:`\|J_f(x_i)\|_2` for each input.
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


def truncation_table(soc, in_shape, terms=(1, 2, 3, 4, 5, 6, 8, 12)):
    r"""For each highest power :math:`K`: the exact largest and smallest singular values of an
    SOC layer's Jacobian and its sound bound :math:`1 + \|A\|^{K+1}/(K+1)!` (Singla and Feizi,
    ICML 2021).

    Parameters
    ----------
    soc : lipviz.layers.SOC
        The layer (evaluated in eval mode; its mode and terms are restored).
    in_shape : tuple of int
        ``(C, H, W)``, small: the Jacobian is dense.
    terms : iterable of int
        The highest powers :math:`K` to tabulate.

    Returns
    -------
    pandas.DataFrame
        Columns ``terms``, ``sigma_max``, ``sigma_min``, ``bound``.
    """
    import pandas as pd
    from torch.func import jacrev

    saved = soc.eval_terms
    x = torch.zeros((1, *in_shape), dtype=soc.weight.dtype)
    rows = []
    with eval_mode(soc):
        try:
            for k in terms:
                soc.eval_terms = k
                jac = jacrev(lambda v: soc(v).flatten())(x).reshape(-1, x.numel()).detach()
                sv = torch.linalg.svdvals(jac.double())
                rows.append(
                    {
                        "terms": k,
                        "sigma_max": float(sv.max()),
                        "sigma_min": float(sv.min()),
                        "bound": soc.lipschitz_bound(in_shape),
                    }
                )
        finally:
            soc.eval_terms = saved
    return pd.DataFrame(rows)
