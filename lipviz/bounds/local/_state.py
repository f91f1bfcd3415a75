"""What a local walk (:mod:`lipviz.bounds.local`) carries from layer to layer: the
:class:`LocalState` of the centre, the box, the ball and the masks, shared by every local rule
through the rule context."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..context import BoundContext

__all__ = ["FOLDED", "LocalState", "param", "state_of"]


@dataclass
class LocalState:
    """What a local walk carries from layer to layer, per input (float64).

    Attributes
    ----------
    mu, lo, hi : Tensor
        The centre and the box of the current activations, shape ``(N, *shape)``.
    radius : Tensor
        Shape ``(N,)``: every activation reachable from the input ball lies within this l2
        distance of ``mu``.
    mask : Tensor or None
        Bool, shape ``(N, *shape)``: the coordinates that may vary on the ball (None: all).
    sound : bool
        Sound factors (True) or power-iteration estimates.
    n_iter : int
        Power-iteration steps of estimates.
    pending : dict or None
        The last affine layer, until the next layer closes it (an activation with its row
        mask): its factor is computed once, with both masks (:func:`close_pending`).
    last : dict or None
        The state at the input of the last affine layer (for worst-case logits).
    fixed : list of dict
        Per activation: the fraction of its neurons fixed on each ball.
    grad : bool
        Training: keep gradients in the weights and thresholds (estimates only).
    dtype : torch.dtype
        The dtype of the propagation (float64 for certificates).
    sparsity : list of Tensor or None
        Training: the sparsity terms of the activations (Huang et al.'s sparsity loss); None
        when they are not collected.
    factors : list of dict
        The factors of the closed affine layers (``layer``, ``_id``, ``values``, ``method``).
    trace : list of dict or None
        When a list: per affine layer, its output's centre, IBP box and ball box (for figures).
    ball_box : tuple
        ``(lo, hi)`` while they are the input ball's own box ``mu +- radius`` (the walk
        starts so without a valid-range clip; reshapes keep it), which lets a training walk
        skip the first layer's IBP passes; ``(None, None)`` otherwise.
    sp_thres : float
        The weight of the saturation term in the sparsity loss of clipped ReLUs.
    exact_convs : bool
        Sound walks: convolution factors also use the exact norm on the batch's channels (an
        eigenproblem per weight), not only the channel-masked FFT bound.
    centre_err : Tensor or None
        Sound walks: a bound on the rounding error of each entry of the last affine layer's
        output centre (:func:`lipviz.bounds.local.rounding_terms`), for the worst-case logits.
    """

    mu: torch.Tensor
    lo: torch.Tensor
    hi: torch.Tensor
    radius: torch.Tensor
    mask: torch.Tensor | None = None
    sound: bool = True
    n_iter: int = 100
    pending: dict | None = None
    last: dict | None = None
    fixed: list = field(default_factory=list)
    grad: bool = False
    dtype: torch.dtype = torch.float64
    sparsity: list | None = field(default_factory=list)
    exact_convs: bool = True
    sp_thres: float = 0.1
    factors: list = field(default_factory=list)
    trace: list | None = None
    ball_box: tuple = (None, None)
    centre_err: torch.Tensor | None = None


def state_of(ctx: BoundContext) -> LocalState:
    """The :class:`LocalState` of a local walk.

    Parameters
    ----------
    ctx : BoundContext
        The context a local rule received.

    Returns
    -------
    LocalState
        ``ctx.extras["local"]``, shared by every rule of the walk.
    """
    return ctx.extras["local"]


def param(t: torch.Tensor, st: LocalState) -> torch.Tensor:
    """A weight, bias or threshold in the walk's dtype, detached unless training.

    Parameters
    ----------
    t : Tensor
        The parameter.
    st : LocalState
        The walk's state (its ``dtype`` and ``grad``).

    Returns
    -------
    Tensor
    """
    return (t if st.grad else t.detach()).to(st.dtype)


FOLDED = "1 (its mask of fixed neurons is in the previous layer's factor)"
