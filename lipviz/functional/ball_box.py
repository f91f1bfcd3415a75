r"""The largest value of a linear function over a ball intersected with a box, through its
Lagrangian dual (the last-layer step of Local-Lip's certificate; Huang, Zhang, Shi, Kolter and
Anandkumar, NeurIPS 2021).

For :math:`c \in \mathbb R^D`, a box :math:`[a, b] \ni 0` and a radius :math:`\rho \ge 0`,

.. math:: p^\star = \max\{c^\top d : \|d\|_2 \le \rho,\ a \le d \le b\}
    \;\le\; g(\lambda) = \frac{\lambda \rho^2}{2}
    + \sum_k \max_{a_k \le d_k \le b_k} \Big(c_k d_k - \frac{\lambda}{2} d_k^2\Big)

for *every* :math:`\lambda > 0` (weak duality: for a feasible :math:`d`,
:math:`c^\top d \le c^\top d + \frac{\lambda}{2}(\rho^2 - \|d\|^2) \le g(\lambda)`). The inner
maximiser is :math:`d_k(\lambda) = \operatorname{clip}(c_k / \lambda, a_k, b_k)`, and
:math:`g'(\lambda) = (\rho^2 - \|d(\lambda)\|^2)/2` increases with :math:`\lambda`, so the best
:math:`\lambda` solves :math:`\|d(\lambda)\|_2 = \rho` (or is :math:`0^+` when the box's own
maximiser lies in the ball: then :math:`g(0^+)` is the box bound). The problem is convex and
strictly feasible for :math:`\rho > 0`, so the minimum of :math:`g` *equals* :math:`p^\star`
(strong duality): the bound is exact, and tighter than both :math:`\rho\|c\|_2` (which is
:math:`g(\|c\|/\rho)` or more) and the box bound :math:`\sum_k \max(c_k a_k, c_k b_k)`.

:math:`\|d(\lambda)\|^2` is piecewise :math:`E + C/\lambda^2` between the breakpoints
:math:`t_k = c_k / e_k` (:math:`e_k` the endpoint of :math:`[a_k, b_k]` on the side of
:math:`c_k`): one sort gives the exact :math:`\lambda^\star` (:func:`ball_box_dual`).
"""

from __future__ import annotations

import torch

__all__ = ["ball_box_dual", "ball_box_value"]


def ball_box_value(c, lo, hi, rho, lam):
    r""":math:`g(\lambda)`: an upper bound of :math:`\max c^\top d` over
    :math:`\{\|d\|_2 \le \rho\} \cap [a, b]` for any :math:`\lambda > 0` (weak duality).

    Parameters
    ----------
    c : Tensor
        Shape ``(..., D)``.
    lo, hi : Tensor
        The box :math:`[a, b]`, broadcastable to ``c``; :math:`a \le 0 \le b`.
    rho : Tensor
        Radii, broadcastable to ``c.shape[:-1]``.
    lam : Tensor
        :math:`\lambda \ge 0`, shape ``c.shape[:-1]`` (any value gives a bound; at 0,
        :math:`g(0)` is the box bound :math:`\sum_k \max(c_k a_k, c_k b_k)`).

    Returns
    -------
    (Tensor, Tensor)
        :math:`g(\lambda)` of shape ``c.shape[:-1]``, and the sum of the magnitudes of its
        terms (for rounding bounds: each term is off by a relative :math:`\gamma` at most).

    Examples
    --------
    >>> c = torch.tensor([[3.0, 4.0]])
    >>> value, _ = ball_box_value(c, -torch.ones(2), torch.ones(2) * 10, torch.tensor([1.0]),
    ...                           torch.tensor([5.0]))
    >>> float(value)  # the ball's maximum rho ||c|| = 5, reached at lambda = ||c|| / rho
    5.0
    """
    lam = lam[..., None]
    corner = torch.where(c > 0, hi, torch.where(c < 0, lo, torch.zeros_like(c)))
    free = c / torch.where(lam > 0, lam, torch.ones_like(lam))
    d = torch.where(lam > 0, torch.minimum(torch.maximum(free, lo), hi), corner)
    half = lam * d * d / 2
    terms = c * d - half
    rho2 = rho * rho
    value = lam[..., 0] * rho2 / 2 + terms.sum(-1)
    size = lam[..., 0] * rho2 / 2 + ((c * d).abs() + half).sum(-1)
    return value, size


def ball_box_dual(c, lo, hi, rho):
    r"""The minimiser :math:`\lambda^\star` of :math:`g` (:mod:`lipviz.functional.ball_box`):
    :math:`\|\operatorname{clip}(c/\lambda^\star, a, b)\|_2 = \rho`, found exactly from the
    sorted breakpoints.

    Every returned value is a finite :math:`\lambda \ge 0`, so :func:`ball_box_value` at it is
    a valid bound whatever the rounding of this search; where the box's maximiser already lies
    in the ball, :math:`\lambda^\star = 0` (:math:`g(0)` is the box bound, then exact).

    Parameters
    ----------
    c : Tensor
        Shape ``(..., D)``.
    lo, hi : Tensor
        The box, broadcastable to ``c``, with ``lo <= 0 <= hi``.
    rho : Tensor
        Radii ``> 0``, broadcastable to ``c.shape[:-1]``.

    Returns
    -------
    Tensor
        :math:`\lambda`, shape ``c.shape[:-1]``, detached.

    Examples
    --------
    >>> c = torch.tensor([[1.0, 1.0]])
    >>> lo, hi = -torch.ones(2), torch.tensor([0.5, 10.0])
    >>> lam = ball_box_dual(c, lo, hi, torch.tensor([1.0]))
    >>> d = (c / lam[:, None]).clamp(lo, hi)  # the maximiser (0.5, sqrt(3)/2): on the sphere
    >>> round(float(d.norm()), 6), round(float(lam), 6)
    (1.0, 1.154701)
    """
    with torch.no_grad():
        c, lo, hi = torch.broadcast_tensors(c.detach(), lo.detach(), hi.detach())
        rho2 = (rho.detach() ** 2).expand(c.shape[:-1])
        e = torch.where(c > 0, hi, torch.where(c < 0, lo, torch.zeros_like(c)))
        e2, c2 = e * e, c * c
        # breakpoint t_k = c_k / e_k: d_k is at its endpoint for lambda <= t_k, free above
        t = torch.where(
            e != 0, c / e.where(e != 0, torch.ones_like(e)), torch.full_like(c, torch.inf)
        )
        t = torch.where(c == 0, torch.zeros_like(t), t)  # c_k = 0: d_k = 0, free, adds nothing
        t, order = torch.sort(t, dim=-1)
        c2, e2 = c2.gather(-1, order), e2.gather(-1, order)
        zero = torch.zeros_like(c2[..., :1])
        free = torch.cat([zero, c2.cumsum(-1)], -1)  # C_i: the i smallest breakpoints are free
        rest = torch.cat([e2.flip(-1).cumsum(-1).flip(-1), zero], -1)  # E_i: the others
        room = rho2[..., None] - rest
        lam = torch.sqrt(free / room.clamp_min(torch.finfo(c.dtype).tiny))
        left = torch.cat([zero, t], -1)
        right = torch.cat([t, torch.full_like(zero, torch.inf)], -1)
        valid = (room > 0) & (lam >= left) & (lam <= right) & torch.isfinite(lam) & (lam > 0)
        first = valid.to(torch.int8).argmax(-1, keepdim=True)
        found = valid.any(-1)
        lam = lam.gather(-1, first)[..., 0]
        # the box's maximiser inside the ball: lambda -> 0+ (g tends to the box bound)
        inside = e2.sum(-1) <= rho2
        norm, rho = c2.sum(-1).sqrt(), rho2.sqrt()
        info = torch.finfo(c.dtype)
        least, most = info.tiny * 1e4, info.max * 1e-4
        ball = norm / rho.clamp_min(info.tiny)  # g(||c|| / rho) <= rho ||c||
        lam = torch.where(found, lam, ball)
        lam = torch.nan_to_num(lam, nan=1.0, posinf=most).clamp(least, most)
        return torch.where(inside, torch.zeros_like(lam), lam)
