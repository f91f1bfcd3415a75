"""Composition of per-layer bounds over a network."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..layers.blocks import Concat, Residual
from .conv import conv_bn_bound
from .rules import DEFAULT_N_ITER, MODES, LayerBound, layer_bound

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


class _Composer:
    """Walks a model, composing per-layer bounds and recording one row per layer."""

    def __init__(self, mode: str, n_iter: int):
        self.mode, self.n_iter = mode, n_iter
        self.rows: list[dict] = []

    def row(self, name, module, x_in, x_out, lb: LayerBound, depth):
        self.rows.append(
            {
                "layer": name,
                "type": type(module).__name__,
                "in_shape": tuple(x_in.shape[1:]),
                "out_shape": tuple(x_out.shape[1:]),
                "bound": lb.value,
                "method": lb.method,
                "sound": lb.sound,
                "depth": depth,
            }
        )

    def compose(self, module: nn.Module, x: torch.Tensor, name: str, depth: int):
        """Return (bound, sound, output) for ``module`` applied to ``x``."""
        if isinstance(module, nn.Sequential):
            return self.sequence(list(module.named_children()), x, name, depth)
        if isinstance(module, Residual):
            parts = [(module.branch, "branch"), (module.shortcut, "shortcut")]
            values, sound, out = [], True, None
            for sub, label in parts:
                v, s, y = self.compose(sub, x, f"{name}.{label}", depth + 1)
                values.append(v)
                sound &= s
                out = y if out is None else out + y
            lb = LayerBound(sum(values), "sum of branch bounds (residual)", sound)
            self.row(name, module, x, out, lb, depth)
            return lb.value, sound, out
        if isinstance(module, Concat):
            values, sound, outs = [], True, []
            for i, sub in enumerate(module.branches):
                v, s, y = self.compose(sub, x, f"{name}.{i}", depth + 1)
                values.append(v)
                sound &= s
                outs.append(y)
            out = torch.cat(outs, dim=module.dim)
            lb = LayerBound(math.sqrt(sum(v * v for v in values)), "sqrt(sum l^2) (concat)", sound)
            self.row(name, module, x, out, lb, depth)
            return lb.value, sound, out
        lb = layer_bound(module, tuple(x.shape[1:]), self.mode, self.n_iter)
        out = module(x)
        self.row(name, module, x, out, lb, depth)
        return lb.value, lb.sound, out

    def sequence(self, children, x, prefix, depth):
        total, sound, i = 1.0, True, 0
        while i < len(children):
            name, module = children[i]
            full = f"{prefix}.{name}" if prefix else name
            nxt = children[i + 1][1] if i + 1 < len(children) else None
            if isinstance(module, nn.Conv2d) and isinstance(nxt, nn.BatchNorm2d):
                lb = conv_bn_bound(module, nxt, tuple(x.shape[1:]), self.mode, self.n_iter)
                out = nxt(module(x))
                self.row(f"{full}+{children[i + 1][0]}", module, x, out, lb, depth)
                value, ok, x, i = lb.value, lb.sound, out, i + 2
            else:
                value, ok, x = self.compose(module, x, full, depth)
                i += 1
            total *= value
            sound &= ok
        return total, sound, x


def lipschitz_bound(
    model: nn.Module, input_shape, mode: str = "sound", n_iter: int = DEFAULT_N_ITER
) -> LipschitzBound:
    r"""Upper-bound the l2 Lipschitz constant of ``model`` by composing per-layer bounds.

    .. math::
        \mathrm{Lip}(f_L \circ \dots \circ f_1) \le \prod_i \mathrm{Lip}(f_i), \qquad
        \mathrm{Lip}(f + g) \le \mathrm{Lip}(f) + \mathrm{Lip}(g), \qquad
        \mathrm{Lip}([f; g]) \le \sqrt{\mathrm{Lip}(f)^2 + \mathrm{Lip}(g)^2}

    The bound is for the model in eval mode (running statistics, no dropout) and for inputs of
    ``input_shape`` (without the batch dimension): convolution norms depend on the input size.
    A Conv2d directly followed by a BatchNorm2d is bounded as one fused linear map.

    Parameters
    ----------
    model
        An ``nn.Sequential`` (nested, with :class:`~lipviz.layers.Residual` and
        :class:`~lipviz.layers.Concat` blocks) or a single module with a registered rule.
    input_shape
        e.g. ``(1, 28, 28)`` or ``(2,)``.
    mode
        ``"sound"``: guaranteed upper bounds only (exact SVD for dense layers, the FFT bound for
        convolutions). ``"estimate"``: power iteration with ``n_iter`` steps, which may
        under-estimate; never use it for a certificate.

    Returns
    -------
    LipschitzBound
        ``value``, ``mode``, and ``table``: one row per layer (``depth`` > 0 for rows inside
        residual/concat blocks, whose block row carries their combined bound).

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
    composer = _Composer(mode, n_iter)
    try:
        param = next(model.parameters(), None)
        x = torch.zeros(
            (1, *shape),
            device=param.device if param is not None else "cpu",
            dtype=param.dtype if param is not None else torch.float32,
        )
        with torch.no_grad():
            total, all_sound, _ = composer.compose(model, x, "", 0)
    finally:
        model.train(was_training)
    table = pd.DataFrame(composer.rows)
    top = table["depth"] == 0
    table["cumulative"] = table["bound"].where(top).cumprod().where(top)
    if mode == "sound" and not all_sound:
        bad = table.loc[~table["sound"], "layer"].tolist()
        msg = f"mode='sound' but layers {bad} only have estimates"
        raise RuntimeError(msg)
    if not math.isfinite(total):
        msg = f"the Lipschitz bound is not finite ({total}); check the weights for inf/NaN"
        raise ValueError(msg)
    return LipschitzBound(
        value=total,
        mode="sound" if all_sound else "estimate",
        method="composition of per-layer bounds",
        input_shape=shape,
        table=table,
    )
