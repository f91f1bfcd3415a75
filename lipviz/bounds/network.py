"""Composition of per-layer bounds over a network."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from .rules import MODES, layer_bound

__all__ = ["LipschitzBound", "lipschitz_bound"]


@dataclass(frozen=True, eq=False)
class LipschitzBound:
    """A network's Lipschitz bound: value, mode (``sound``/``estimate``), method and breakdown.

    ``table`` is a DataFrame with one row per layer (name, type, shapes, bound, method, sound,
    cumulative product).
    """

    value: float
    mode: str
    method: str
    input_shape: tuple[int, ...]
    table: object

    @property
    def sound(self) -> bool:
        return self.mode == "sound"

    def __float__(self) -> float:
        return self.value

    def __repr__(self) -> str:
        return f"LipschitzBound(value={self.value:.6g}, mode={self.mode!r}, method={self.method!r})"


def _leaves(module: nn.Module, prefix: str = ""):
    if isinstance(module, nn.Sequential):
        for name, child in module.named_children():
            yield from _leaves(child, f"{prefix}.{name}" if prefix else name)
    else:
        yield (prefix or type(module).__name__), module


def _check_shape(input_shape) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in input_shape)
    except TypeError as err:
        msg = (
            f"input_shape must be a tuple of ints without the batch dimension, got {input_shape!r}"
        )
        raise ValueError(msg) from err
    if not shape or any(s <= 0 for s in shape):
        msg = f"input_shape must be positive ints without the batch dimension, got {input_shape!r}"
        raise ValueError(msg)
    return shape


def lipschitz_bound(model: nn.Module, input_shape, mode: str = "sound") -> LipschitzBound:
    r"""Upper-bound the l2 Lipschitz constant of ``model`` as a product of per-layer bounds.

    .. math:: \mathrm{Lip}(f_L \circ \dots \circ f_1) \le \prod_i \mathrm{Lip}(f_i)

    The bound is for the model in eval mode (running statistics, no dropout) and for inputs of
    ``input_shape`` (without the batch dimension): convolution norms depend on the input size.

    Parameters
    ----------
    model
        An ``nn.Sequential`` (nested allowed) or a single module with a registered rule.
    input_shape
        e.g. ``(1, 28, 28)`` or ``(2,)``.
    mode
        ``"sound"`` (guaranteed upper bounds only) or ``"estimate"`` (may under-estimate).

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(2, 2, bias=False), nn.ReLU())
    >>> with torch.no_grad():
    ...     _ = net[0].weight.copy_(torch.diag(torch.tensor([3.0, 1.0])))
    >>> lipschitz_bound(net, (2,)).value
    3.0
    """
    if mode not in MODES:
        msg = f"Unknown bound mode {mode!r}; use one of {MODES}"
        raise ValueError(msg)
    import pandas as pd

    shape = _check_shape(input_shape)
    was_training = model.training
    model.eval()
    rows, total, all_sound = [], 1.0, True
    try:
        param = next(model.parameters(), None)
        x = torch.zeros((1, *shape), device=param.device if param is not None else "cpu")
        with torch.no_grad():
            for name, module in _leaves(model):
                in_shape = tuple(x.shape[1:])
                lb = layer_bound(module, in_shape, mode)
                x = module(x)
                total *= lb.value
                all_sound &= lb.sound
                rows.append(
                    {
                        "layer": name,
                        "type": type(module).__name__,
                        "in_shape": in_shape,
                        "out_shape": tuple(x.shape[1:]),
                        "bound": lb.value,
                        "method": lb.method,
                        "sound": lb.sound,
                        "cumulative": total,
                    }
                )
    finally:
        model.train(was_training)
    if mode == "sound" and not all_sound:
        bad = [r["layer"] for r in rows if not r["sound"]]
        msg = f"mode='sound' but layers {bad} only have estimates"
        raise RuntimeError(msg)
    if not math.isfinite(total):
        msg = f"the Lipschitz bound is not finite ({total}); check the weights for inf/NaN"
        raise ValueError(msg)
    return LipschitzBound(
        value=total,
        mode="sound" if all_sound else "estimate",
        method="product of per-layer bounds",
        input_shape=shape,
        table=pd.DataFrame(rows),
    )
