"""The input contract of every local bound and certificate (:mod:`lipviz.bounds.local`,
:mod:`lipviz.certify_local`): what is checked, what is refused, and the radii in float64, never
narrowed to the inputs' dtype."""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["check_box", "check_local_inputs", "model_dtype"]


def check_box(box) -> tuple[float, float] | None:
    """A valid input range as two finite floats ``low < high``, or None.

    Parameters
    ----------
    box : (float, float) or None
        The range of every input value.

    Returns
    -------
    (float, float) or None

    Raises
    ------
    ValueError
        Unless ``box`` is None or two finite numbers with ``low < high``.

    Examples
    --------
    >>> check_box((0, 1))
    (0.0, 1.0)
    >>> check_box((1, 0))
    Traceback (most recent call last):
    ...
    ValueError: box must be (low, high) with finite low < high, got (1, 0)
    """
    if box is None:
        return None
    try:
        if isinstance(box, (str, bytes)):
            raise TypeError
        low, high = (float(v) for v in box)
    except (TypeError, ValueError):
        low = high = math.nan
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        msg = f"box must be (low, high) with finite low < high, got {box!r}"
        raise ValueError(msg)
    return low, high


def model_dtype(model: nn.Module) -> torch.dtype:
    """The dtype a model computes in, for certificates: float32 or float64.

    Parameters
    ----------
    model : nn.Module

    Returns
    -------
    torch.dtype
        float64 if any floating parameter or buffer is float64, else float32.

    Raises
    ------
    ValueError
        For a float16 or bfloat16 parameter or buffer: certificates are computed in fp32 or
        wider.
    """
    dtypes = {t.dtype for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()}
    if dtypes & {torch.float16, torch.bfloat16}:
        msg = "certificates are computed in fp32 or wider: convert the model with model.float()"
        raise ValueError(msg)
    return torch.float64 if torch.float64 in dtypes else torch.float32


def check_local_inputs(model: nn.Module, x: torch.Tensor, eps, box, *, training: bool = False):
    """The input contract of every local bound and certificate; the radii in float64.

    Checked: ``x`` is a batched floating tensor of finite values, no wider than the model's
    dtype, inside ``box`` when one is given; the model computes in fp32 or wider; ``eps`` is
    finite, >= 0, one value or one per input, and not larger than the input box's diameter (an
    ε in 0-255 units). The radii are converted to float64 exactly, never through ``x``'s dtype
    (0.7 in float32 is 0.6999999881: the ball would shrink).

    Parameters
    ----------
    model : nn.Module
        The model.
    x : Tensor
        Inputs, shape ``(N, *input_shape)``.
    eps : float, sequence or Tensor
        Radius or radii in input units.
    box : (float, float) or None
        The valid input range.
    training : bool
        A training walk (its model may be in a mixed-precision dtype; nothing is certified).

    Returns
    -------
    (Tensor, tuple or None)
        The radii, float64, shape ``(N,)``, and the checked box.

    Raises
    ------
    ValueError
        For any input outside the contract, with a sentence saying what to do.
    """
    from ..attacks import check_eps

    if not isinstance(x, torch.Tensor):
        msg = f"x must be a torch.Tensor, got {type(x).__name__}"
        raise TypeError(msg)
    if x.dim() < 2:
        msg = f"x must be batched (N, ...), got shape {tuple(x.shape)}"
        raise ValueError(msg)
    if len(x) == 0:
        msg = "x holds no inputs (N = 0)"
        raise ValueError(msg)
    if not x.is_floating_point():
        msg = (
            f"x must be a floating tensor in input units (e.g. images scaled to [0, 1]), got "
            f"{x.dtype}: convert it explicitly"
        )
        raise ValueError(msg)
    if not training:
        dtype = model_dtype(model)
        if x.dtype.itemsize > dtype.itemsize:
            msg = (
                f"x is {x.dtype} but the model computes in {dtype}: rounding x would certify "
                "other points. Convert the model (model.double()) or x explicitly."
            )
            raise ValueError(msg)
    if not bool(torch.isfinite(x).all()):
        msg = "x contains NaN or inf: no certificate is given for a non-finite input"
        raise ValueError(msg)
    box = check_box(box)
    if box is not None:
        low, high = float(x.min()), float(x.max())
        if low < box[0] or high > box[1]:
            msg = (
                f"x lies outside the box {box} (its values span [{low:.4g}, {high:.4g}]): "
                "the box is the range of the model's inputs. Standardised data? Put the "
                "normalisation inside the model (lipviz.Normalize) and pass inputs in their own "
                "range, or pass the data's range as box (or box=None)."
            )
            raise ValueError(msg)
    eps_t = check_eps(eps, x, box=box if box is not None else (0.0, 1.0), dtype=torch.float64)
    return eps_t, box
