r"""The local walk: the local rules of affine layers, ReLU and reshapes, :func:`local_walk`,
:func:`local_lipschitz_bound` and :func:`close_pending` (the mathematics is in the docstring of
:mod:`lipviz.bounds.local`, the package's door)."""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import nn

from ...functional.checks import check_box, check_eps, check_local_inputs
from ..context import BoundContext, LayerBound
from ..conv import conv_linear_op
from ..guards import current_weight
from ..registry import register_bound
from ..rounding import gamma, outward, round_up, widen
from ._kernels import centre_halfwidth, meet_box
from ._norms import masked_norms
from ._state import FOLDED, LocalState, param, state_of

__all__ = [
    "LocalBound",
    "affine_local",
    "close_pending",
    "fan_in",
    "local_bound_of",
    "local_lipschitz_bound",
    "local_walk",
    "rounding_terms",
]


# --- the rules ----------------------------------------------------------------------------------


def fan_in(module: nn.Linear | nn.Conv2d) -> int:
    """The length of the dot products an affine layer computes per output.

    Parameters
    ----------
    module : nn.Linear or nn.Conv2d

    Returns
    -------
    int

    Examples
    --------
    >>> fan_in(nn.Conv2d(4, 8, 3, groups=2))
    18
    """
    if isinstance(module, nn.Linear):
        return module.in_features
    return module.in_channels // module.groups * math.prod(module.kernel_size)


def rounding_terms(module, absop, like: torch.Tensor, big: torch.Tensor, bias):
    r"""Rounding bounds of one affine layer of a sound local walk.

    Every value the layer computes (:math:`W\mu + b`, :math:`W c + b`, :math:`|W| r`) is a dot
    product of length :math:`k` whose terms are at most :math:`|w_{ji}|\,m` in magnitude, with
    :math:`m` the largest magnitude of the input centre and box; so it is off by at most
    :math:`\gamma_{k+8}(\|w_j\|_1 m + |b_j|)` (:mod:`lipviz.bounds.rounding`). The ball's
    reach :math:`\rho\,\|(WD)_j\|_2` is off by at most :math:`\gamma_{k+8}` relative.

    Parameters
    ----------
    module : nn.Linear or nn.Conv2d
        The layer.
    absop : callable
        :math:`v \mapsto |W| v` (no bias).
    like : Tensor
        One input of the layer, shape ``(1, *in_shape)``.
    big : Tensor
        The largest magnitude per input, broadcastable to the output ``(N, 1, ...)``.
    bias : Tensor or None
        The bias in the walk's dtype.

    Returns
    -------
    (Tensor, float)
        The absolute error bound of every output (broadcastable to ``(N, *out)``) and the
        relative error of the reach.
    """
    g = gamma(fan_in(module) + 8, like.dtype)
    absrow = absop(torch.ones_like(like))  # ||w_j||_1 per output (padding included)
    err = absrow * big
    if bias is not None:
        err = err + bias.abs().view(1, -1, *([1] * (err.dim() - 2)))
    return g * err, g


@register_bound(nn.Linear, nn.Conv2d, kind="local")
def affine_local(module, ctx: BoundContext) -> LayerBound:
    r"""Box :math:`\cap` ball through :math:`Wx + b`: the IBP box :math:`W c + b \pm |W| r` and the
    ball's box :math:`\mu' \pm \rho\, \|(W D)_j\|_2`. The factor :math:`\|D' W D\|_2` waits for
    the next layer: an activation's row mask :math:`D'` (:func:`close_pending`).

    Parameters
    ----------
    module : nn.Linear or nn.Conv2d
        The affine layer (zero padding for convolutions).
    ctx : BoundContext
        A local context (``ctx.extras["local"]`` holds the :class:`LocalState`).

    Returns
    -------
    LayerBound
        Ones, shape ``(N,)``: the factor is filled in when the layer is closed.
    """
    st = state_of(ctx)
    close_pending(st, None)
    w = param(current_weight(module), st)
    bias = param(module.bias, st) if module.bias is not None else None
    if isinstance(module, nn.Linear):
        lin = lambda v: nn.functional.linear(v, w)  # noqa: E731
        sq = lambda v: nn.functional.linear(v, w * w)  # noqa: E731
        absop = lambda v: nn.functional.linear(v, w.abs())  # noqa: E731
    else:
        if module.padding_mode != "zeros":
            msg = f"{ctx.name}: local bounds support zero-padded convolutions only"
            raise TypeError(msg)
        lin, sq, absop = (conv_linear_op(module, k) for k in (w, w * w, w.abs()))
    cols = st.mask if st.mask is not None else torch.ones_like(st.mu, dtype=torch.bool)
    exact = st.sound and not st.grad
    if exact:  # the largest magnitude per input, before the state moves on (rounding terms)
        big = torch.maximum(st.mu.abs(), torch.maximum(st.lo.abs(), st.hi.abs()))
        big = big.flatten(1).amax(1)
    st.last = {
        "mu": st.mu,
        "lo": st.lo,
        "hi": st.hi,
        "radius": st.radius,
        "mask": cols,
        "module": module,
    }
    shape = (-1, *([1] * (st.mu.dim() - 1)))
    if st.grad:  # training: the unmasked row norms (as the reference code; never smaller, one
        # input's worth of work instead of the batch's)
        rownorm = sq(torch.ones_like(st.mu[:1])).clamp_min(1e-30).sqrt()
    else:
        rownorm = sq(cols.to(st.dtype)).clamp_min(1e-30).sqrt()
    if st.grad and st.trace is None and st.lo is st.ball_box[0] and st.hi is st.ball_box[1]:
        # training on the input ball's own box mu +- radius: the ball's box is inside the IBP
        # box (||w_j||_2 <= ||w_j||_1), so the box is mu' +- radius ||w_j||_2, no IBP pass
        mu = lin(st.mu)
        if bias is not None:
            mu = mu + bias.view(1, -1, *([1] * (mu.dim() - 2)))
        reach = st.radius.view(shape) * rownorm
        lo, hi = mu - reach, mu + reach
        mid: torch.Tensor | None = None
        rad: torch.Tensor | None = None
        b = None
    else:
        centre, half = centre_halfwidth(st.lo, st.hi)
        mu, mid, rad = lin(st.mu), lin(centre), absop(half)
        b = None if bias is None else bias.view(1, -1, *([1] * (mu.dim() - 2)))
        mu, lo, hi = meet_box(mu, mid, rad, b, st.radius.view(shape), rownorm)
    err_norm = None
    if exact:  # every computed value is within err of the exact one (rounding_terms)
        err, rel = rounding_terms(module, absop, st.mu[:1], big.view(shape), bias)
        lo, hi = widen(lo, hi, err + rel * st.radius.view(shape) * rownorm)
        mu = torch.minimum(torch.maximum(mu, lo), hi)  # the centre stays in its box
        st.centre_err = err.expand_as(mu)
        err_norm = st.centre_err.flatten(1).norm(dim=1)
    if st.trace is not None:  # never the no-IBP branch above, which needs st.trace is None
        assert mid is not None and rad is not None
        mid, reach = (mid if b is None else mid + b), st.radius.view(shape) * rownorm
        st.trace.append(
            {
                "layer": ctx.name,
                "mu": mu.detach(),
                "ibp": (mid - rad, mid + rad),
                "ball": (mu - reach, mu + reach),
            }
        )
    st.pending = {
        "module": module,
        "in_shape": ctx.in_shape,
        "cols": cols,
        "layer": ctx.name,
        "radius": st.radius,
        "out_shape": mu.shape,
        "err": err_norm,
    }
    st.mu, st.lo, st.hi, st.mask = mu, lo, hi, None
    st.radius = None  # type: ignore[assignment]  # the next activation sets the new radius
    one = torch.ones(len(mu), dtype=st.dtype, device=mu.device)
    return LayerBound(one, "pending: the factor with the next layer's mask", st.sound)


def close_pending(st: LocalState, rows: torch.Tensor | None) -> torch.Tensor:
    r"""Close the pending affine layer: its factor :math:`\|D' W D\|_2`, computed once with its
    column mask :math:`D` and the row mask :math:`D'` of the activation after it.

    The activation's outputs that are fixed on the ball are constants there, so the map from
    the ball to the activation's varying outputs has Lipschitz constant at most
    :math:`\|D' W D\|_2`; the ball radius is multiplied by it.

    Parameters
    ----------
    st : LocalState
        The walk's state (its ``pending`` affine layer is consumed and its factor appended to
        ``st.factors``).
    rows : Tensor or None
        Bool, the activation's mask of the neurons that may vary (shape of the affine output),
        or None (no activation follows: :math:`D' = I`).

    Returns
    -------
    Tensor
        Ones, shape ``(N,)``: the value of the activation's own row in the walk.
    """
    pending, st.pending = st.pending, None
    one = torch.ones(len(st.mu), dtype=st.dtype, device=st.mu.device)
    if pending is None:
        return one
    if rows is not None:
        rows = rows.reshape(pending["out_shape"])  # undo a reshape between the two layers
    # estimates of a certification walk iterate in float32 (fast convolutions; power iteration
    # is a lower estimate anyway) from the float64 walk's start vectors
    fast = torch.float32 if not (st.sound or st.grad) and st.dtype == torch.float64 else st.dtype
    values, method = masked_norms(
        pending["module"],
        pending["in_shape"],
        pending["cols"],
        rows,
        sound=st.sound,
        dtype=fast,
        n_iter=st.n_iter,
        grad=st.grad,
        start_dtype=st.dtype,
        exact_convs=st.exact_convs,
    )
    values = values.to(st.dtype)
    st.radius = pending["radius"] * values
    if pending.get("err") is not None:  # sound walks: the centre's own rounding joins the radius
        st.radius = round_up(st.radius * (1 + gamma(4)) + pending["err"])
    st.factors.append(
        {
            "layer": pending["layer"],
            "_id": id(pending["module"]),
            "values": values,
            "method": method,
        }
    )
    return one


def _record_fixed(st: LocalState, name: str, varies: torch.Tensor) -> None:
    st.fixed.append({"layer": name, "varies": varies})  # fractions when the table is built


@register_bound(nn.ReLU, kind="local")
def _relu_local(module, ctx: BoundContext) -> LayerBound:
    r"""Fixed where the pre-activation box has :math:`\overline{z} \le 0` (dead on the ball);
    the row mask refines the previous affine factor."""
    st = state_of(ctx)
    varies = st.hi > 0
    if st.grad and st.sparsity is not None:
        st.sparsity.append(torch.relu(st.hi).mean())
    one = close_pending(st, varies)
    st.mu, st.lo, st.hi = st.mu.clamp_min(0), st.lo.clamp_min(0), st.hi.clamp_min(0)
    st.mask = varies if st.mask is None else st.mask & varies
    _record_fixed(st, ctx.name, varies)
    return LayerBound(one, FOLDED, True)


@register_bound(nn.Flatten, nn.Identity, nn.Dropout, kind="local")
def _reshape_local(module, ctx: BoundContext) -> LayerBound:
    """Shape changes only (Dropout is the identity in eval mode)."""
    st = state_of(ctx)
    shape = (len(st.mu), *ctx.outputs.shape[1:])  # the walker may follow a batch of one
    ball = st.lo is st.ball_box[0] and st.hi is st.ball_box[1]
    st.mu, st.lo, st.hi = (t.reshape(shape) for t in (st.mu, st.lo, st.hi))
    if ball:
        st.ball_box = (st.lo, st.hi)
    if st.mask is not None:
        st.mask = st.mask.reshape(shape)
    return LayerBound(torch.ones(len(st.mu), dtype=st.dtype), "1 (reshape)", True)


# --- the walk -------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LocalBound:
    """Per-input local Lipschitz bounds of a model on balls :math:`B(x_n, \\varepsilon_n)`.

    Attributes
    ----------
    values : Tensor
        Shape ``(N,)``: upper bounds (``sound``) or estimates of the Lipschitz constant of the
        logits restricted to each ball.
    mode : str
        ``"sound"`` or ``"estimate"``.
    eps : Tensor
        Shape ``(N,)``, the radii (input units).
    table : pandas.DataFrame
        One row per layer call; ``bound`` is the largest factor over the inputs.
    fixed : pandas.DataFrame
        Per activation: the mean fraction of neurons fixed on the balls.
    """

    values: torch.Tensor
    mode: str
    eps: torch.Tensor
    table: object
    fixed: object

    @property
    def sound(self) -> bool:
        """True for guaranteed upper bounds."""
        return self.mode == "sound"


def local_walk(
    model: nn.Module,
    x: torch.Tensor,
    eps,
    *,
    mode: str = "sound",
    n_iter: int = 100,
    box=None,
    grad: bool = False,
    sp_thres: float = 0.1,
    sparsity: bool = True,
    trace: bool = False,
    exact_convs: bool = True,
):
    """Walk ``model`` in local mode around ``x``.

    Parameters
    ----------
    model, x, eps, mode, n_iter, box
        As for :func:`local_lipschitz_bound`.
    grad : bool
        Training (``mode="estimate"`` only): propagate in the model's dtype with gradients in
        the weights and thresholds, and collect the sparsity terms.
    sp_thres : float
        Weight of the saturation term of the sparsity loss.
    sparsity : bool
        Training: collect the sparsity terms (skip them when their weight is 0).
    trace : bool
        Keep every affine layer's boxes in ``state.trace`` (for figures).
    exact_convs : bool, default True
        Sound walks: bound each convolution by the smaller of its channel-masked FFT bound and
        its exact norm on the batch's channels (one eigenproblem per weight, tens of seconds
        for a 4C3F); False keeps the FFT bound alone (still sound, up to about 1 % larger per
        convolution: what a training run's validation uses).

    Returns
    -------
    (Walker, Tensor or None, LocalState)
        The walker (its per-call rows, each affine layer's with its factor), the bounds of
        shape ``(N,)`` (None in training walks: the last layer's factor is not computed, the
        worst-case logits need only the state) and the final state (its ``last`` entry holds
        the input of the last affine layer).
    """
    from ...state import eval_mode
    from ..walker import walk

    if mode not in ("sound", "estimate"):
        msg = f"mode must be 'sound' or 'estimate', got {mode!r}"
        raise ValueError(msg)
    if grad and mode != "estimate":
        msg = "training walks (grad=True) use power-iteration estimates: mode='estimate'"
        raise ValueError(msg)
    eps_t, box = check_local_inputs(model, x, eps, box, training=grad)
    dtype = x.dtype if grad else torch.float64
    eps_t = eps_t.to(dtype)
    mu = x.detach().to(dtype, copy=True)  # the caller's tensor is never touched
    shape = (-1, *([1] * (mu.dim() - 1)))
    lo, hi = mu - eps_t.view(shape), mu + eps_t.view(shape)
    if mode == "sound" and not grad:  # the ball rounded outward: never smaller than asked
        lo, hi = outward(lo, hi)
    if box is not None:
        lo, hi = lo.clamp(min=box[0], max=box[1]), hi.clamp(min=box[0], max=box[1])
    st = LocalState(
        mu=mu,
        lo=lo,
        hi=hi,
        radius=eps_t.clone(),
        sound=mode == "sound",
        n_iter=n_iter,
        grad=grad,
        dtype=dtype,
        sp_thres=sp_thres,
        sparsity=[] if grad and sparsity else None,
        trace=[] if trace else None,
        ball_box=(lo, hi) if box is None else (None, None),
        exact_convs=exact_convs,
    )
    ctx = BoundContext(tuple(x.shape[1:]), "local", n_iter, extras={"local": st})
    # certification walks run outside any autocast region (training walks keep the caller's)
    no_autocast = torch.autocast(x.device.type, enabled=False) if not grad else nullcontext()
    with eval_mode(model), torch.set_grad_enabled(grad), no_autocast:
        # the rules read and write the state; the walker's own pass only follows the calls and
        # their shapes, so a training walk lets it run on one input instead of the batch
        # (on a copy: an in-place first layer must not change the caller's inputs)
        walker, (total, _, _) = walk(model, (x[:1] if grad else x).detach().clone(), ctx)
        if grad:
            return walker, None, st
        close_pending(st, None)
    if isinstance(total, torch.Tensor):
        values = total
    else:
        values = torch.full((len(x),), float(total), dtype=dtype)
    rows = {(r["_id"], r["layer"]): r for r in walker.rows}
    for f in st.factors:  # each affine layer's row gets its factor (a product over the walk)
        values = values * f["values"]
        row = rows[(f["_id"], f["layer"])]
        row["bound"], row["method"] = float(f["values"].max()), f["method"]
    return walker, values.double(), st


def local_lipschitz_bound(
    model: nn.Module, x: torch.Tensor, eps, mode: str = "sound", *, n_iter: int = 100, box=None
) -> LocalBound:
    r"""Upper-bound the Lipschitz constant of ``model``'s logits on each ball
    :math:`B(x_n, \varepsilon_n)` (Huang et al., NeurIPS 2021):

    .. math:: \mathrm{Lip}(f|_{B(x, \varepsilon)}) \le \|W_L D_{L-1}\|_2
        \prod_i \|D_i W_i D_{i-1}\|_2 \le \prod_i \|W_i\|_2 ,

    with :math:`D_i` the masks of the neurons not fixed on the ball (box :math:`\cap` ball).

    Parameters
    ----------
    model : nn.Module
        A chain of Linear, Conv2d (zero padding), Flatten, Normalize, ReLU, MaxMin and the
        clipped activations; anything else is refused with an error naming it.
    x : Tensor
        Inputs, shape ``(N, *input_shape)``, in input units.
    eps : float or Tensor
        Radius (or radii, shape ``(N,)``) in input units (36/255, not 36).
    mode : {"sound", "estimate"}
        ``sound``: guaranteed factors; ``estimate``: power iteration (may under-estimate;
        iterated in float32 from the float64 walk's start vectors).
    n_iter : int
        Power-iteration steps of ``estimate`` mode.
    box : (float, float), optional
        The valid input range; the balls are then intersected with it.

    Returns
    -------
    LocalBound
        ``values`` of shape ``(N,)``, ``mode``, ``table`` and ``fixed``.
    """
    walker, total, st = local_walk(model, x, eps, mode=mode, n_iter=n_iter, box=box)
    return local_bound_of(walker, total, st, mode, eps, x, box)


def local_bound_of(walker, total, st: LocalState, mode: str, eps, x, box) -> LocalBound:
    """The :class:`LocalBound` of a finished local walk (see :func:`local_walk`).

    Parameters
    ----------
    walker, total, st
        What :func:`local_walk` returned.
    mode : str
        The walk's mode.
    eps, x, box
        As given to the walk.

    Returns
    -------
    LocalBound
    """
    import pandas as pd

    table = pd.DataFrame(walker.rows).drop(columns="_id")
    fixed = pd.DataFrame(
        [
            {"layer": f["layer"], "fixed_fraction": 1.0 - float(f["varies"].double().mean())}
            for f in st.fixed
        ]
    )
    if mode == "sound" and not bool(torch.isfinite(total).all()):
        msg = "the local bound is not finite; check the weights for inf/NaN"
        raise ValueError(msg)
    box = check_box(box)
    eps_t = check_eps(eps, x, box=box if box is not None else (0.0, 1.0), dtype=torch.float64)
    return LocalBound(total, mode, eps_t, table, fixed)
