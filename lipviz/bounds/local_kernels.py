r"""The elementwise rules of the local walk as pure functions, optionally fused by
``torch.compile``.

A training step of Local-Lip (:class:`lipviz.train.objectives.LocalLip`) spends most of what its
convolutions leave on a few elementwise rules per layer, each a chain of small tensor operations
that eager PyTorch runs one full pass over memory at a time, forward and backward. Fusing each
rule into one loop (TorchInductor) is what ``compile=True`` of the training walk buys; the
values are the same up to float rounding. Certificates never use the fused kernels.
"""

from __future__ import annotations

import warnings

import torch

__all__ = ["centre_halfwidth", "clip_box", "kernel", "meet_box"]


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
    return mu, torch.maximum(mid - rad, mu - reach), torch.minimum(mid + rad, mu + reach)


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
    zero = torch.zeros_like(theta)
    return (*(torch.clamp(t, zero, theta) for t in (mu, lo, hi)), varies)


_FUSED: dict = {}


def kernel(fn, fused: bool):
    """``fn`` itself, or (``fused``) its ``torch.compile`` version, built once per function.

    A fused kernel that fails to build (no C++ compiler, an unsupported platform) warns once
    and runs ``fn`` from then on: fusion changes speed, never results.

    Parameters
    ----------
    fn : callable
        One of the rules of this module.
    fused : bool
        Whether to fuse it.

    Returns
    -------
    callable
        A function with ``fn``'s signature.

    Examples
    --------
    >>> kernel(centre_halfwidth, fused=False) is centre_halfwidth
    True
    """
    if not fused:
        return fn
    if fn not in _FUSED:
        _FUSED[fn] = _with_fallback(fn, torch.compile(fn, dynamic=None))
    return _FUSED[fn]


def _with_fallback(fn, compiled):
    state = {"ok": None}

    def call(*args):
        if state["ok"] is False:
            return fn(*args)
        if state["ok"] is None:
            try:
                out = compiled(*args)
            except Exception as err:  # noqa: BLE001 - any build failure: run unfused
                warnings.warn(f"torch.compile of {fn.__name__} failed ({type(err).__name__}: "
                              f"{str(err)[:200]}); running it unfused", RuntimeWarning,
                              stacklevel=2)  # fmt: skip
                state["ok"] = False
                return fn(*args)
            state["ok"] = True
            return out
        return compiled(*args)

    return call
