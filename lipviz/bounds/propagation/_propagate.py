"""IBP and CROWN over the whole chain: :func:`propagate_bounds` and its result."""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import nn

from ...functional.checks import check_local_inputs
from ..rounding import outward
from ._chain import chain, forward
from ._interval import ibp_margins, through_block
from ._linear import Problem, rows_lower, tighten

__all__ = ["METHODS", "PropagatedBounds", "propagate_bounds"]

METHODS = ("ibp", "crown")
"""The bound-propagation methods, loosest first."""

_NORMS = (2, math.inf)


@dataclasses.dataclass(frozen=True)
class PropagatedBounds:
    r"""The bounds one propagation proved on every input's set :math:`D`.

    Attributes
    ----------
    method : str
        ``"ibp"`` or ``"crown"``.
    target : Tensor
        The class whose margins are bounded, int64 ``(N,)``.
    margins : Tensor
        Lower bounds of :math:`f_{y}(x) - f_j(x)` over :math:`D`, float64 ``(N, C)``;
        ``+inf`` at the target itself.
    pre_activations : list of (Tensor, Tensor)
        Lower and upper bounds of each ReLU's input, float64 ``(N, *shape)``, in order.
    eps : Tensor
        The radii, float64 ``(N,)``.
    norm : float
        2 or ``inf``.
    """

    method: str
    target: torch.Tensor
    margins: torch.Tensor
    pre_activations: list
    eps: torch.Tensor
    norm: float

    @property
    def certified(self) -> torch.Tensor:
        """Bool ``(N,)``: every margin's lower bound is positive (NaN never certifies)."""
        worst = self.margins.amin(1)
        return torch.isfinite(worst) & (worst > 0)

    def unstable(self) -> list[float]:
        """The fraction of each ReLU layer's neurons whose input bounds straddle 0."""
        return [float(((lo < 0) & (hi > 0)).double().mean()) for lo, hi in self.pre_activations]


def _propagate(blocks, x0, eps, norm, box, target, method):
    radius = eps.view(-1, *(1,) * (x0.dim() - 1))
    lo, hi = outward(x0 - radius, x0 + radius)  # the ball's enclosing box, rounded outward
    if box is not None:
        lo, hi = lo.clamp_min(box[0]), hi.clamp_max(box[1])
    p = Problem(blocks, x0, eps, norm, lo, hi, [], [])
    a_lo, a_hi = lo, hi
    for k, ops in enumerate(blocks):
        z_lo, z_hi, inputs = through_block(ops, a_lo, a_hi)
        p.inputs.append(inputs)
        if k == len(blocks) - 1:
            break
        if k == 0:  # every neuron of the first block exactly over D
            z_lo, z_hi = tighten(p, k, z_lo, z_hi, everyone=True)
        elif method == "crown":  # CROWN: the neurons left unstable
            z_lo, z_hi = tighten(p, k, z_lo, z_hi, everyone=False)
        p.relu.append((z_lo, z_hi))
        a_lo, a_hi = z_lo.clamp_min(0), z_hi.clamp_min(0)
    last = len(blocks) - 1
    n_out = blocks[last][-1].shape_out[0]
    spec = torch.eye(n_out, dtype=torch.float64)
    rows = spec[target][:, None, :] - spec[None]  # e_y - e_j, (B, C, C)
    if last == 0:  # an affine model: its exact minimum over D
        margins = rows_lower(p, 0, rows)
    else:
        margins = ibp_margins(blocks[last], p.inputs[last], rows, a_lo, a_hi)
    if method == "crown" and last > 0:  # CROWN, never looser than IBP's margins
        margins = torch.maximum(margins, rows_lower(p, last, rows))
    return margins.scatter(1, target[:, None], math.inf), p.relu


def propagate_bounds(
    model: nn.Module,
    x: torch.Tensor,
    eps,
    *,
    method: str = "crown",
    norm: float = 2,
    box=None,
    target=None,
    batch_size: int = 64,
) -> PropagatedBounds:
    r"""Lower bounds of every margin over :math:`D = B_p(x, \varepsilon) \cap \text{box}` by IBP or
    CROWN (see :mod:`lipviz.bounds.propagation`).

    Parameters
    ----------
    model : nn.Module
        A ReLU chain of supported layers, ending in logits ``(N, C)``.
    x : Tensor
        Inputs, shape ``(N, *input_shape)`` (the input contract of
        :func:`lipviz.functional.checks.check_local_inputs`).
    eps : float or Tensor
        Radius or radii ``(N,)`` in input units.
    method : {"crown", "ibp"}
    norm : {2, inf}
        The ball's norm (the book's certificates are l2; l-inf is there for comparison).
    box : (float, float), optional
        The valid input range, intersected with the balls.
    target : Tensor, optional
        The class of each input whose margins are bounded (default: the model's prediction).
    batch_size : int
        Inputs per pass.

    Returns
    -------
    PropagatedBounds

    Raises
    ------
    TypeError
        For a layer bound propagation does not support (named).
    ValueError
        For inputs outside the contract, an unknown method or norm.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2))
    >>> _ = net[0].weight.data.copy_(torch.eye(2)); _ = net[0].bias.data.zero_()
    >>> _ = net[2].weight.data.copy_(torch.tensor([[1.0, -1.0], [-1.0, 1.0]]))
    >>> _ = net[2].bias.data.zero_()
    >>> x = torch.tensor([[0.5, 0.0]])  # f_0 - f_1 = 1; class 0 holds up to 1/sqrt(8) = 0.354
    >>> crown = propagate_bounds(net, x, 0.3)
    >>> crown.certified.tolist(), round(float(crown.margins[0, 1]), 4)
    ([True], 0.0292)
    >>> propagate_bounds(net, x, 0.3, method="ibp").certified.tolist()  # IBP: up to 0.25
    [False]
    """
    if method not in METHODS:
        msg = f"method must be one of {METHODS}, got {method!r}"
        raise ValueError(msg)
    if norm not in _NORMS:
        msg = f"norm must be 2 or math.inf, got {norm!r}"
        raise ValueError(msg)
    eps_t, box = check_local_inputs(model, x, eps, box)
    if batch_size < 1:
        msg = f"batch_size must be >= 1, got {batch_size}"
        raise ValueError(msg)
    device = x.device
    x64 = x.detach().to("cpu", torch.float64)
    eps_t = eps_t.to("cpu")
    blocks = chain(model.cpu() if device.type != "cpu" else model, tuple(x.shape[1:]))
    with torch.no_grad():
        logits = forward(blocks, x64)
    if target is None:
        target = logits.argmax(1)
    target = torch.as_tensor(target, dtype=torch.int64).flatten()
    if target.numel() != len(x) or bool((target < 0).any() | (target >= logits.shape[1]).any()):
        msg = f"target must hold one class in [0, {logits.shape[1]}) per input"
        raise ValueError(msg)
    parts = []
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            sl = slice(i, i + batch_size)
            parts.append(_propagate(blocks, x64[sl], eps_t[sl], norm, box, target[sl], method))
    margins = torch.cat([m for m, _ in parts])
    pre = [
        (torch.cat([r[j][0] for _, r in parts]), torch.cat([r[j][1] for _, r in parts]))
        for j in range(len(parts[0][1]))
    ]
    return PropagatedBounds(method, target, margins, pre, eps_t, float(norm))
