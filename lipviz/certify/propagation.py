r"""Certificates by bound propagation (IBP, CROWN): an input is certified at radius
:math:`\varepsilon` when the lower bound of every margin of its predicted class over the ball
:math:`B_2(x, \varepsilon) \cap \text{box}` is positive (:mod:`lipviz.bounds.propagation`).

Unlike a Lipschitz certificate, these give no radius in closed form: the radius is found by
bisection on :math:`\varepsilon`, and every radius returned is one at which the bound was
proved (a certificate on a ball holds on every smaller ball, whatever the bound's own
monotonicity).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..bounds.propagation import propagate_bounds
from ..functional.checks import check_count, check_local_inputs
from .local import predict
from .radii import CertifiedRadii, bisect_radii

__all__ = ["propagation_certified", "propagation_certified_radius"]


def propagation_certified(
    model: nn.Module,
    x: torch.Tensor,
    eps,
    *,
    method: str = "crown",
    box=None,
    batch_size: int = 64,
) -> torch.Tensor:
    r"""Whether no point of each ball :math:`B_2(x_n, \varepsilon_n) \cap \text{box}` changes the
    model's predicted class, proved by IBP or CROWN.

    Parameters
    ----------
    model : nn.Module
        A ReLU chain :func:`lipviz.bounds.propagation.propagate_bounds` supports.
    x : Tensor
        Inputs, shape ``(N, *input_shape)``.
    eps : float or Tensor
        Radius or radii ``(N,)`` in input units.
    method : {"crown", "ibp"}
    box : (float, float), optional
        The valid input range, intersected with the balls.
    batch_size : int
        Inputs per propagation.

    Returns
    -------
    Tensor
        Bool, shape ``(N,)``; False where a bound is not finite.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2))
    >>> _ = net[0].weight.data.copy_(torch.eye(2)); _ = net[0].bias.data.zero_()
    >>> _ = net[2].weight.data.copy_(torch.tensor([[1.0, -1.0], [-1.0, 1.0]]))
    >>> _ = net[2].bias.data.zero_()
    >>> x = torch.tensor([[0.5, 0.0], [0.5, 0.4]])  # exact radii 0.354 and 0.071
    >>> propagation_certified(net, x, 0.3).tolist()
    [True, False]
    """
    check_local_inputs(model, x, eps, box)
    target = predict(model, x).cpu()  # the certified class is the model's own prediction
    bounds = propagate_bounds(
        model, x, eps, method=method, box=box, target=target, batch_size=batch_size
    )
    return bounds.certified.to(x.device)


def propagation_certified_radius(
    model: nn.Module,
    x: torch.Tensor,
    eps_max: float,
    *,
    method: str = "crown",
    steps: int = 12,
    box=None,
) -> CertifiedRadii:
    r"""Per-input certified radius by bisection on :math:`\varepsilon \in [0,
    \varepsilon_{\max}]`; each returned radius was proved (a lower bound of the best).

    Parameters
    ----------
    model : nn.Module
        As for :func:`propagation_certified`.
    x : Tensor
        Inputs, shape ``(N, *input_shape)``.
    eps_max : float
        The largest radius tried (input units).
    method : {"crown", "ibp"}
    steps : int
        Bisection steps (precision ``eps_max / 2**steps``).
    box : (float, float), optional
        The valid input range.

    Returns
    -------
    CertifiedRadii
        ``form`` is the method; ``lipschitz`` is NaN (no Lipschitz constant is used).
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
        lambda eps: propagation_certified(model, x, eps, method=method, box=box),
        steps=steps,
        sound=True,
        form=method,
    )
