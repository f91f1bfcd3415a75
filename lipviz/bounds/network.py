"""Composition of per-layer bounds over a network: the model-level API on the one walker
(:mod:`lipviz.bounds.walker`).

The sound bound, the power-iteration estimate (:func:`lipschitz_bound`) and the training-time
differentiable estimate (:class:`lipviz.train.PowerIterationBound`) all use the walker; they
differ only in the :class:`~lipviz.bounds.registry.BoundContext` mode their rules receive. The
output of the walk is checked against the model's own forward pass, and a module whose eval-mode
forward changes its parameters or buffers is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..state import eval_mode, state_digest
from .context import DEFAULT_N_ITER, MODES, BoundContext
from .walker import walk

__all__ = ["LipschitzBound", "lipschitz_bound"]


@dataclass(frozen=True, eq=False)
class LipschitzBound:
    """A network's Lipschitz bound: value, mode (``sound``/``estimate``), method and breakdown.

    ``table`` is a DataFrame with one row per layer call (name, type, shapes, bound, method,
    sound, whether the instance is shared, cumulative product). ``state_digest`` fingerprints the
    parameters and buffers the bound was computed for (:func:`lipviz.state.state_digest`).
    Returned by :func:`lipschitz_bound`; ``float(bound)`` is ``bound.value`` and ``bound.sound``
    is ``mode == "sound"``.

    Parameters
    ----------
    value : float
        The bound (or estimate) of the l2 Lipschitz constant of the whole model.
    mode : str
        ``"sound"`` when every layer's bound is guaranteed, else ``"estimate"``.
    method : str
        How the value was obtained (``"composition of per-layer bounds"``).
    input_shape : tuple of int
        The input shape it holds for, without the batch dimension.
    table : pandas.DataFrame
        One row per layer call: columns ``layer``, ``type``, ``in_shape``, ``out_shape``,
        ``bound``, ``method``, ``sound``, ``depth``, ``shared`` and ``cumulative``.
    state_digest : str
        Fingerprint of the parameters and buffers (``""`` when unknown).
    """

    value: float
    mode: str
    method: str
    input_shape: tuple[int, ...]
    table: object
    state_digest: str = ""

    @property
    def sound(self) -> bool:
        """Whether the value is a guaranteed upper bound (``mode == "sound"``)."""
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


def _probe_input(model: nn.Module, shape) -> torch.Tensor:
    """Two random inputs in the model's dtype and device (a local generator: no global RNG)."""
    ref = next((t for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()), None)
    dtype = ref.dtype if ref is not None else torch.float32
    device = ref.device if ref is not None else torch.device("cpu")
    gen = torch.Generator().manual_seed(0)
    return torch.rand((2, *shape), generator=gen, dtype=torch.float64).to(device, dtype)


def _check_forward(model: nn.Module, x: torch.Tensor, walked: torch.Tensor) -> None:
    """The walk must reproduce the model's forward pass, row by row (no batch mixing)."""
    ref, single = model(x), model(x[:1])
    scale = 1.0 + float(ref.detach().abs().nan_to_num(posinf=0.0).max()) if ref.numel() else 1.0
    tol = 1e-4 if walked.dtype in (torch.float32, torch.float16, torch.bfloat16) else 1e-9

    def close(a, b):
        return a.shape == b.shape and bool(
            torch.isclose(a, b, rtol=tol, atol=tol * scale, equal_nan=True).all()
        )

    if not close(ref, walked):
        msg = (
            f"walking {type(model).__name__} layer by layer does not reproduce its forward pass: "
            "its forward does something its parts' rules do not describe. Register a rule for it."
        )
        raise RuntimeError(msg)
    if not close(single, walked[:1]):
        msg = (
            f"{type(model).__name__} gives another output for an input alone than inside a batch:"
            " its outputs depend on other inputs of the batch, so no per-input bound applies"
        )
        raise RuntimeError(msg)


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
    A Conv2d directly followed by a BatchNorm2d is bounded as one fused linear map. No module's
    mode, parameters or buffers change.

    The walk refuses (``TypeError``/``ValueError``/``RuntimeError`` naming the module) a type
    without a rule, a subclass overriding a registered type's methods, forward hooks and unknown
    pre-hooks, residual parts of different shapes, in-place changes of a block's shared input
    or of the model's input, and any model whose forward pass the walk does not reproduce.

    Parameters
    ----------
    model : nn.Module
        An ``nn.Sequential`` (nested, with :class:`~lipviz.layers.Residual` and
        :class:`~lipviz.layers.Concat` blocks) or a single module with a registered rule.
    input_shape : tuple of int
        The input shape without the batch dimension, e.g. ``(1, 28, 28)`` or ``(2,)``.
    mode : {"sound", "estimate"}
        ``"sound"``: guaranteed upper bounds only (exact SVD for dense layers, the FFT bound for
        convolutions). ``"estimate"``: power iteration with ``n_iter`` steps, which may
        under-estimate; never use it for a certificate.
    n_iter : int
        Power-iteration steps of ``"estimate"`` mode.

    Returns
    -------
    LipschitzBound
        ``value``, ``mode``, and ``table``: one row per layer (``depth`` > 0 for rows inside
        residual/concat blocks, whose block row carries their combined bound).

    Raises
    ------
    TypeError
        For a module without a rule, a subclass overriding a registered type's methods, or
        hooks lipviz cannot account for.
    ValueError
        For an unknown mode, a bad ``input_shape``, a non-finite bound, residual parts of
        different shapes, or in-place changes of a shared input.
    RuntimeError
        If the walk does not reproduce the model's forward pass, outputs depend on other
        inputs of the batch, the model changes while running, or ``mode="sound"`` meets a
        layer with only an estimate.

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
    before = state_digest(model)
    with eval_mode(model), torch.no_grad():
        x = _probe_input(model, shape)
        walker, (total, all_sound, out) = walk(model, x, BoundContext(shape, mode, n_iter))
        _check_forward(model, x, out)
    if state_digest(model) != before:
        msg = (
            "the model's parameters or buffers changed during an eval-mode forward pass: "
            "a bound of a model that changes as it runs is not a bound (a custom module?)"
        )
        raise RuntimeError(msg)
    table = pd.DataFrame(walker.rows)
    counts = table["_id"].map(table["_id"].value_counts())
    table["shared"] = counts > 1
    table = table.drop(columns="_id")
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
        state_digest=before,
    )
