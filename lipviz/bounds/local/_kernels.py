r"""The elementwise rules of the local walk (:mod:`lipviz.bounds.local`) as pure functions: the
centre and half-width of a box, the box :math:`\cap` ball after an affine layer, a clipped
ReLU on a box with its mask of the neurons that may vary, and the maxima, minima and thresholds
of (clipped) MaxMin pairs. The clipped activations' own forward passes use them too.

When autograd records (training), the maxima, minima and clamps are written with ReLUs,
:math:`\max(a, b) = b + \mathrm{relu}(a - b)` and :math:`\mathrm{clip}(t, 0, \theta) =
\mathrm{relu}(t) - \mathrm{relu}(t - \theta)` for :math:`\theta \ge 0`: equal up to rounding, and
their backward passes are two to three times faster on CPU than those of ``torch.maximum`` and
``torch.clamp`` with tensor bounds (``benchmarks/RESULTS.md``, 2026-11-30). Without autograd
(certificates) the exact ``maximum``, ``minimum`` and ``clamp`` are used, so certified values
do not depend on it.

Fusing the rules with ``torch.compile`` was measured and dropped: on the 2-core CPU of
``benchmarks/RESULTS.md`` (2026-11-30) a Local-Lip training step with the three rules compiled
was 5 % slower than with eager ones.
"""

from __future__ import annotations

import torch

__all__ = [
    "at_least",
    "at_most",
    "centre_halfwidth",
    "clip_box",
    "clip_relu",
    "meet_box",
    "pair_max_min",
    "records_grad",
]


def records_grad(*tensors) -> bool:
    """Whether autograd records an operation on ``tensors`` (grad mode on and one of them
    requires a gradient).

    Parameters
    ----------
    *tensors : Tensor
        The operands.

    Returns
    -------
    bool

    Examples
    --------
    >>> records_grad(torch.ones(1)), records_grad(torch.ones(1, requires_grad=True))
    (False, True)
    """
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def centre_halfwidth(lo: torch.Tensor, hi: torch.Tensor):
    r"""The centre :math:`(l + h)/2` and half-width :math:`(h - l)/2` of a box.

    Parameters
    ----------
    lo, hi : Tensor
        The box's lower and upper corners (same shape).

    Returns
    -------
    (Tensor, Tensor)
        Its centre and half-width.

    Examples
    --------
    >>> c, r = centre_halfwidth(torch.tensor([0.0, -1.0]), torch.tensor([2.0, 3.0]))
    >>> c.tolist(), r.tolist()
    ([1.0, 1.0], [1.0, 2.0])
    """
    return (lo + hi) / 2, (hi - lo) / 2


def meet_box(mu, mid, rad, bias, radius, rownorm):
    r"""Box :math:`\cap` ball after an affine layer :math:`z = Wx + b` (BCP; Lee et al., NeurIPS
    2020): the IBP box :math:`W c + b \pm |W| r` meets the ball's box
    :math:`W \mu + b \pm \rho\, \|W_j\|_2`; both enclose the image of the ball, so their
    intersection does.

    Parameters
    ----------
    mu, mid, rad : Tensor
        :math:`W\mu`, :math:`W c` and :math:`|W| r` (no bias), shape ``(N, *out)``.
    bias : Tensor or None
        The bias, broadcastable to ``mu`` (e.g. ``(1, C, 1, 1)``).
    radius : Tensor
        The ball radius per input, broadcastable to ``mu`` (e.g. ``(N, 1, 1, 1)``).
    rownorm : Tensor
        :math:`\|W_j\|_2` per output neuron, broadcastable to ``mu``.

    Returns
    -------
    (Tensor, Tensor, Tensor)
        The centre :math:`W\mu + b` and the corners of the intersected box.

    Examples
    --------
    >>> one = torch.ones(1, 1)
    >>> [t.item() for t in meet_box(one * 0, one * 0, one * 2, None, one, one)]
    [0.0, -1.0, 1.0]
    """
    if bias is not None:
        mu, mid = mu + bias, mid + bias
    reach = radius * rownorm
    if not records_grad(mu, mid, rad, reach):
        return mu, torch.maximum(mid - rad, mu - reach), torch.minimum(mid + rad, mu + reach)
    # mu + max(d - rad, -reach) and mu + min(d + rad, reach), with d = mid - mu, through ReLUs
    d = mid - mu
    lo = mu - reach + torch.relu(d - rad + reach)
    hi = mu + reach - torch.relu(reach - d - rad)
    return mu, lo, hi


def clip_relu(t: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    r"""The clipped ReLU :math:`\min(\max(t, 0), \theta)`; under autograd with
    :math:`\theta \ge 0`, as :math:`\mathrm{relu}(t) - \mathrm{relu}(t - \theta)` (equal, with a
    faster backward pass on CPU).

    Parameters
    ----------
    t : Tensor
        The pre-activations.
    theta : Tensor
        The thresholds, broadcastable to ``t``.

    Returns
    -------
    Tensor
        Shape of ``t``.

    Examples
    --------
    >>> clip_relu(torch.tensor([-1.0, 0.5, 3.0]), torch.tensor(2.0)).tolist()
    [0.0, 0.5, 2.0]
    """
    if records_grad(t, theta) and bool((theta >= 0).all()):
        return torch.relu(t) - torch.relu(t - theta)
    return torch.minimum(torch.relu(t), theta)


def clip_box(mu, lo, hi, theta):
    r"""A clipped ReLU :math:`\min(\max(z, 0), \theta)` on a centre and a box, and the neurons
    that may vary on it (not dead, :math:`\overline z > 0`, and not saturated,
    :math:`\underline z < \theta`).

    Parameters
    ----------
    mu, lo, hi : Tensor
        The centre and the box of the pre-activations, shape ``(N, *shape)``.
    theta : Tensor
        The thresholds, broadcastable to ``mu``.

    Returns
    -------
    (Tensor, Tensor, Tensor, Tensor)
        The clipped centre, box corners, and the bool mask of the neurons that may vary.

    Examples
    --------
    >>> z = torch.tensor([[-1.0, 0.5, 3.0]])
    >>> _, lo, hi, varies = clip_box(z, z - 0.5, z + 0.5, torch.tensor([2.0]))
    >>> lo.tolist(), varies.tolist()
    ([[0.0, 0.0, 2.0]], [[False, True, False]])
    """
    varies = (hi > 0) & (lo < theta)
    if records_grad(mu, lo, hi, theta):
        return (*(clip_relu(t, theta) for t in (mu, lo, hi)), varies)
    zero = torch.zeros_like(theta)
    return (*(torch.clamp(t, zero, theta) for t in (mu, lo, hi)), varies)


def pair_max_min(a: torch.Tensor, b: torch.Tensor):
    r""":math:`(\max(a, b), \min(a, b))` elementwise (MaxMin on pairs); under autograd as
    :math:`(b + r, a - r)` with :math:`r = \mathrm{relu}(a - b)` (equal up to rounding, faster
    backward pass on CPU).

    Parameters
    ----------
    a, b : Tensor
        The two halves of the pairs (same shape).

    Returns
    -------
    (Tensor, Tensor)
        The larger and the smaller of each pair.

    Examples
    --------
    >>> hi, lo = pair_max_min(torch.tensor([1.0, -2.0]), torch.tensor([0.0, 3.0]))
    >>> hi.tolist(), lo.tolist()
    ([1.0, 3.0], [0.0, -2.0])
    """
    if records_grad(a, b):
        r = torch.relu(a - b)
        return b + r, a - r
    return torch.maximum(a, b), torch.minimum(a, b)


def at_most(t: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    r""":math:`\min(t, \theta)`; under autograd as :math:`t - \mathrm{relu}(t - \theta)`.

    Parameters
    ----------
    t, theta : Tensor
        Broadcastable to each other.

    Returns
    -------
    Tensor

    Examples
    --------
    >>> at_most(torch.tensor([1.0, 3.0]), torch.tensor(2.0)).tolist()
    [1.0, 2.0]
    """
    if records_grad(t, theta):
        return t - torch.relu(t - theta)
    return torch.minimum(t, theta)


def at_least(t: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    r""":math:`\max(t, \theta)`; under autograd as :math:`t + \mathrm{relu}(\theta - t)`.

    Parameters
    ----------
    t, theta : Tensor
        Broadcastable to each other.

    Returns
    -------
    Tensor

    Examples
    --------
    >>> at_least(torch.tensor([1.0, 3.0]), torch.tensor(2.0)).tolist()
    [2.0, 3.0]
    """
    if records_grad(t, theta):
        return t + torch.relu(theta - t)
    return torch.maximum(t, theta)
