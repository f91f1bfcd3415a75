r"""Local certificates (Local-Lip; Huang, Zhang, Shi, Kolter and Anandkumar, NeurIPS 2021):
the worst-case logits of the last layer over the ball :math:`\cap` box that the local walk
(:mod:`lipviz.bounds.local`) proves to contain every penultimate activation.

For the predicted class :math:`y` and another class :math:`j`, with :math:`c = w_j - w_y`
restricted to the coordinates that may vary, centre :math:`\mu`, box :math:`[l, u]` and ball
radius :math:`\rho` of the penultimate activations,

.. math:: \max_{z} (f_j - f_y) \le \mu_j - \mu_y + \max\{c^\top d : \|d\|_2 \le \rho,\
    l - \mu \le d \le u - \mu\},

and the input is certified when this is negative for every :math:`j \ne y`. The maximum is
computed exactly through its Lagrangian dual (:mod:`lipviz.functional.ball_box`: any
multiplier gives an upper bound, the best one equals the maximum); it is never above the
ball's bound :math:`\rho\,\|c\|_2` nor the box's :math:`\sum_k \max(c_k (u_k - \mu_k), c_k
(l_k - \mu_k))`, and the smallest of the three is used. The reference code approaches the
same maximum by a few steps of clip-and-rescale (``BCP_translation``). Sound walks add a
bound on every rounding error.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..bounds.guards import current_weight
from ..bounds.local import local_bound_of, local_walk
from ..bounds.rounding import gamma, round_up
from ..functional import ball_box_dual, ball_box_value
from ..functional.checks import check_count, check_local_inputs, model_dtype
from ..state import eval_mode
from .radii import CertifiedRadii, bisect_radii

__all__ = [
    "local_certified",
    "local_certified_radius",
    "local_worst_logits",
    "predict",
]


def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The model's own predictions: eval mode, no gradients, outside autocast, in the model's
    dtype, on a copy of ``x`` (an in-place first layer cannot change the caller's inputs).

    Parameters
    ----------
    model : nn.Module
        A model in fp32 or wider (:func:`lipviz.functional.checks.model_dtype`).
    x : Tensor
        Inputs, shape ``(N, ...)``, no wider than the model's dtype.

    Returns
    -------
    Tensor
        The predicted classes, int64, shape ``(N,)``.

    Raises
    ------
    ValueError
        If the model does not take inputs of this shape or does not return ``(N, C)`` logits.
    """
    dtype = model_dtype(model)
    with eval_mode(model), torch.no_grad(), torch.autocast(x.device.type, enabled=False):
        try:
            logits = model(x.detach().to(dtype, copy=True))
        except RuntimeError as err:  # e.g. a shape the first layer cannot take
            first = (str(err).strip().splitlines() or [""])[0]
            msg = f"the model does not accept inputs of shape {tuple(x.shape)}: {first}"
            raise ValueError(msg) from err
    if logits.dim() != 2 or logits.shape[0] != len(x):
        msg = f"the model must return logits of shape (N, C), got {tuple(logits.shape)}"
        raise ValueError(msg)
    return logits.argmax(1)


def _worst_gaps(walker, st, model: nn.Module, x: torch.Tensor, target=None):
    last = st.last
    if (
        last is None
        or not isinstance(last["module"], nn.Linear)
        or walker.rows[-1]["type"] not in (type(last["module"]).__name__,)
    ):
        msg = "local certificates need a model whose last layer is nn.Linear"
        raise ValueError(msg)
    logits = st.mu  # the centre logits, (N, C), in the walk's dtype
    pred = logits.argmax(1) if target is None else target
    w = current_weight(last["module"])
    w = (w if st.grad else w.detach()).to(st.dtype)
    mask = last["mask"].flatten(1).to(st.dtype)
    mu, lo, hi = (last[k].flatten(1) for k in ("mu", "lo", "hi"))
    err = st.centre_err  # sound walks: rounding bounds of the centre logits (N, C)
    gaps = []
    for i in range(0, len(x), 64):
        sl = slice(i, i + 64)
        c = (w[None] - w[pred[sl]][:, None, :]) * mask[sl, None, :]  # (n, C, D)
        rho = last["radius"][sl, None]
        ball = rho * c.norm(dim=2)
        # the box of d = z - mu, which holds 0 (mu lies in its box)
        up = (hi[sl] - mu[sl]).clamp_min(0)[:, None, :]
        down = (lo[sl] - mu[sl]).clamp_max(0)[:, None, :]
        if err is not None:  # the subtractions, rounded: widened outward
            up, down = up * (1 + gamma(2)), down * (1 + gamma(2))
        terms = torch.maximum(c * up, c * down)
        box = terms.sum(2)
        lam = ball_box_dual(c, down, up, rho.expand(ball.shape))
        dual, size = ball_box_value(c, down, up, rho, lam)
        if err is not None:  # g's own rounding, and that of c = w_j - w_y
            reach = (c.abs() * torch.maximum(up, -down)).sum(2)
            dual = round_up(dual + gamma(c.shape[2] + 8) * size + gamma(2) * reach)
        own = logits[sl].gather(1, pred[sl, None])
        gap = logits[sl] - own + torch.minimum(torch.minimum(ball, box), dual)
        if err is not None:  # every rounding of this gap, bounded (lipviz.bounds.rounding)
            g = gamma(c.shape[2] + 8)
            gap = gap + g * (ball + terms.abs().sum(2) + logits[sl].abs() + own.abs())
            gap = round_up(gap + err[sl] + err[sl].gather(1, pred[sl, None]))
        gaps.append(gap.scatter(1, pred[sl, None], float("-inf")))
    return torch.cat(gaps), pred


def local_certified(
    model: nn.Module,
    x: torch.Tensor,
    eps,
    mode: str = "sound",
    *,
    n_iter: int = 100,
    box=None,
    return_bound: bool = False,
    batch_size: int = 256,
    exact_convs: bool = True,
):
    """Whether no point of each ball :math:`B(x_n, \\varepsilon_n)` changes the predicted class.

    Parameters
    ----------
    model : nn.Module
        A chain the local walk supports (:func:`lipviz.bounds.local.local_lipschitz_bound`),
        ending in ``nn.Linear``.
    x : Tensor
        Inputs, shape ``(N, *input_shape)``.
    eps : float or Tensor
        Radius or radii ``(N,)`` in input units.
    mode : {"sound", "estimate"}
        ``estimate`` results are not certificates (power-iteration factors).
    n_iter : int
        Power-iteration steps of ``estimate`` mode.
    box : (float, float), optional
        The valid input range, intersected with the balls.
    return_bound : bool
        Also return the :class:`~lipviz.bounds.local.LocalBound` of the same walk (one walk
        over all of ``x``).
    batch_size : int
        Inputs per walk otherwise (memory grows with it: float64 boxes of every layer).
    exact_convs : bool, default True
        Sound mode: bound each convolution by the smaller of its channel-masked FFT bound and
        its exact norm on the batch's channels (an eigenproblem per weight); False keeps the
        FFT bound alone (sound, slightly larger; a training run's validation uses it).

    Returns
    -------
    Tensor or (Tensor, LocalBound)
        Bool, shape ``(N,)``; False where a worst-case gap is not finite.
    """
    eps_t, box = check_local_inputs(model, x, eps, box)  # float64: never narrowed
    check_count("n_iter", n_iter)
    check_count("batch_size", batch_size)
    if not return_bound and len(x) > batch_size:
        parts = [
            local_certified(
                model,
                x[i : i + batch_size],
                eps_t[i : i + batch_size],
                mode,
                n_iter=n_iter,
                box=box,
                batch_size=batch_size,
                exact_convs=exact_convs,
            )
            for i in range(0, len(x), batch_size)
        ]
        return torch.cat(parts)
    target = predict(model, x)  # the certified class is the model's own prediction
    walker, total, st = local_walk(
        model, x, eps_t, mode=mode, n_iter=n_iter, box=box, exact_convs=exact_convs
    )
    gaps, _ = _worst_gaps(walker, st, model, x, target=target)
    worst = gaps.amax(1)
    certified = torch.isfinite(worst) & (worst < 0)
    if not return_bound:
        return certified
    return certified, local_bound_of(walker, total, st, mode, eps_t, x, box)


def local_certified_radius(
    model: nn.Module,
    x: torch.Tensor,
    eps_max: float,
    *,
    mode: str = "sound",
    steps: int = 12,
    n_iter: int = 100,
    box=None,
) -> CertifiedRadii:
    """Per-input local certified radius by bisection on :math:`\\varepsilon \\in [0,
    \\varepsilon_{\\max}]` (every propagated set grows with :math:`\\varepsilon`, so the certified
    set of radii is an interval); the returned radius is certified (a lower bound of the best).

    Parameters
    ----------
    model : nn.Module
        As for :func:`local_certified`.
    x : Tensor
        Inputs, shape ``(N, *input_shape)``.
    eps_max : float
        The largest radius tried (input units).
    mode : {"sound", "estimate"}
        Labels the radii (``CertifiedRadii.sound``).
    steps : int
        Bisection steps (precision ``eps_max / 2**steps``).
    n_iter : int
        Power-iteration steps of ``estimate`` mode.
    box : (float, float), optional
        The valid input range.

    Returns
    -------
    CertifiedRadii
        ``form="local"``; ``lipschitz`` is NaN (the bound differs per input and radius).
    """
    if not (math.isfinite(eps_max) and eps_max > 0):
        msg = f"eps_max must be a finite number > 0, got {eps_max}"
        raise ValueError(msg)
    check_local_inputs(model, x, eps_max, box)
    check_count("steps", steps, minimum=0)
    return bisect_radii(
        model,
        x,
        eps_max,
        lambda eps: local_certified(model, x, eps, mode, n_iter=n_iter, box=box),
        steps=steps,
        sound=mode == "sound",
        form="local",
    )


def local_worst_logits(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    eps,
    *,
    n_iter: int = 2,
    sp_thres: float = 0.1,
    sparsity: bool = True,
):
    r"""Worst-case logits over each ball for the true labels, differentiable (training).

    :math:`\tilde z_j = \mu_j + \max\{c_j^\top d : \|d\| \le \rho, d \in [l - \mu, u - \mu]\}`
    (the exact maximum, :mod:`lipviz.functional.ball_box`) with :math:`c_j = w_j - w_y` for
    :math:`j \ne y` and :math:`\tilde z_y = \mu_y` (the BCP logits of Huang et al., NeurIPS
    2021), from a training
    walk: power-iteration factors with ``n_iter`` steps (estimates), gradients in the weights
    and thresholds, memory O(batch).

    Parameters
    ----------
    model : nn.Module
        A chain local bounds support, ending in ``nn.Linear``.
    x : Tensor
        Inputs, shape ``(N, *input_shape)``.
    y : Tensor
        Labels, shape ``(N,)``.
    eps : float
        Training radius (input units).
    n_iter : int
        Power-iteration steps per factor.
    sp_thres : float
        Weight of the saturation term of the sparsity loss.
    sparsity : bool
        Compute the sparsity loss (False: it is returned as 0, and costs nothing).

    Returns
    -------
    (Tensor, Tensor, Tensor)
        The worst-case logits ``(N, C)``, the sparsity loss (a scalar; 0 without
        activations) and the centre logits ``(N, C)`` (the model's logits, propagated with
        gradients by the walk: no second forward pass is needed).
    """
    walker, _, st = local_walk(
        model,
        x,
        eps,
        mode="estimate",
        n_iter=n_iter,
        grad=True,
        sp_thres=sp_thres,
        sparsity=sparsity,
    )
    gaps, target = _worst_gaps(walker, st, model, x, target=y)
    own = st.mu.gather(1, target[:, None])
    worst = (gaps + own).scatter(1, target[:, None], own)
    loss = torch.stack(st.sparsity).sum() if st.sparsity else worst.new_zeros(())
    return worst, loss, st.mu
