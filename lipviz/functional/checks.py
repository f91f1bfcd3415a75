"""Input checks shared by every certificate, bound and attack: the contract each entry point
enforces before it computes anything (radii, labels, counts, input boxes, dtypes).

They refuse what a certificate cannot hold for (a negative or non-finite ε, an ε on a 0-255
scale, labels of the wrong shape, inputs outside their box or wider than the model's dtype) with
one sentence saying what to do. Radii are returned in float64 when a certificate asks, never
narrowed through the inputs' dtype (0.7 in float32 is 0.6999999881: the ball would shrink).
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = [
    "check_box",
    "check_count",
    "check_eps",
    "check_labels",
    "check_local_inputs",
    "model_dtype",
]


def check_eps(
    eps, x: torch.Tensor, box=(0.0, 1.0), dtype: torch.dtype | None = None
) -> torch.Tensor:
    """Validate l2 radii against the inputs; return them as a tensor of shape ``(N,)``.

    Raises a clear error for negative or non-finite values, and for a radius larger than the
    diameter of the input box (typically an ε typed on a 0-255 scale).

    Parameters
    ----------
    eps : float, sequence of float or Tensor
        One radius for all inputs, or one per input (``N`` values), in input units.
    x : Tensor
        Shape ``(N, ...)``, the inputs; gives the count, dtype and device of the result.
    box : tuple of float or None, default (0.0, 1.0)
        ``(low, high)``, the range of every input value. A radius above the box's l2 diameter
        ``(high - low) * sqrt(x[0].numel())`` is rejected; ``None`` skips that check.
    dtype : torch.dtype, optional
        The dtype of the result (default: that of ``x``). Certificates ask for float64, so
        that an ε given as a Python float is never narrowed (0.7 in float32 is 0.6999999881).

    Returns
    -------
    Tensor
        Shape ``(N,)``, in ``dtype`` (default the dtype of ``x``), on the device of ``x``.

    Raises
    ------
    ValueError
        If ``eps`` has neither 1 nor ``N`` values, is negative or not finite, or exceeds the
        l2 diameter of ``box``.

    Examples
    --------
    >>> check_eps(0.5, torch.zeros(3, 2)).tolist()
    [0.5, 0.5, 0.5]
    >>> check_eps(36, torch.zeros(1, 4))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: eps=36 is larger than the l2 diameter 2 of the input box (0.0, 1.0): ...
    """
    eps_t = torch.as_tensor(eps, dtype=dtype or x.dtype, device=x.device).flatten()
    if eps_t.numel() == 1:
        eps_t = eps_t.expand(len(x))
    if eps_t.numel() != len(x):
        msg = f"eps must be a scalar or have one value per input ({len(x)}), got {eps_t.numel()}"
        raise ValueError(msg)
    if not torch.isfinite(eps_t).all() or (eps_t < 0).any():
        msg = "eps must be finite and >= 0"
        raise ValueError(msg)
    if box is not None:
        diameter = (box[1] - box[0]) * math.sqrt(x[0].numel())
        if float(eps_t.max()) > diameter:
            msg = (
                f"eps={float(eps_t.max()):g} is larger than the l2 diameter {diameter:.3g} of the "
                f"input box {box}: eps is in input units (e.g. 36/255 = 0.141, not 36)"
            )
            raise ValueError(msg)
    return eps_t


def check_labels(y, n: int) -> torch.Tensor:
    """Labels as a 1-D integer tensor of length ``n``; a clear error for anything else.

    Labels of shape (N, 1) would broadcast against (N,) predictions into an (N, N) comparison.

    Parameters
    ----------
    y : Tensor or array_like
        The labels, shape ``(n,)``, integer class indices.
    n : int
        The number of inputs.

    Returns
    -------
    Tensor
        ``torch.as_tensor(y)``, shape ``(n,)``, its integer dtype kept.

    Raises
    ------
    ValueError
        For another shape, or a floating, complex or boolean dtype.

    Examples
    --------
    >>> check_labels([0, 2, 1], 3).tolist()
    [0, 2, 1]
    >>> check_labels(torch.tensor([[0], [1]]), 2)
    Traceback (most recent call last):
    ...
    ValueError: labels must have shape (2,) (one class index per input), got (2, 1)
    """
    y = torch.as_tensor(y)
    if y.dim() != 1 or len(y) != n:
        msg = f"labels must have shape ({n},) (one class index per input), got {tuple(y.shape)}"
        raise ValueError(msg)
    if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        msg = f"labels must be integer class indices, got dtype {y.dtype}"
        raise ValueError(msg)
    return y


def check_count(name: str, value, minimum: int = 1) -> int:
    """An integer argument that counts something, at least ``minimum``.

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    value : object
        Its value.
    minimum : int
        The smallest valid count.

    Returns
    -------
    int

    Raises
    ------
    ValueError
        For a non-integer (booleans included) or a count below ``minimum``.

    Examples
    --------
    >>> check_count("n_iter", 0)
    Traceback (most recent call last):
    ...
    ValueError: n_iter must be an integer >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        msg = f"{name} must be an integer >= {minimum}, got {value!r}"
        raise ValueError(msg)
    return value


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
