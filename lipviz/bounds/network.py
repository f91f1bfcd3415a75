"""Composition of per-layer bounds over a network: the one walker and the Sequential rule.

The sound bound, the power-iteration estimate (:func:`lipschitz_bound`) and the training-time
differentiable estimate (:class:`lipviz.train.PowerIterationBound`) all use this walker; they
differ only in the :class:`~lipviz.bounds.registry.BoundContext` mode their rules receive.

The walker follows the model's forward pass call by call: a module instance used twice is
multiplied in twice, a block's parts see exactly the tensors its ``forward`` gives them, and the
output of the walk is checked against the model's own forward pass. It refuses what it does not
understand, with an error naming the module: a type without a rule, a subclass that overrides a
registered type's methods, a forward hook or an unknown pre-hook, a residual whose two parts have
different shapes (broadcasting), a block part that modifies the block's input in place, and a
module whose eval-mode forward changes its parameters or buffers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..state import eval_mode, state_digest
from .guards import check_hooks
from .registry import (
    DEFAULT_N_ITER,
    MODES,
    WALK_MODES,
    BoundContext,
    LayerBound,
    find_composite,
    find_fusion,
    find_local_rule,
    find_rule,
    register_composite,
)

__all__ = ["LipschitzBound", "Walker", "lipschitz_bound", "walk"]


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


Step = tuple[float, bool, torch.Tensor]


def _as_value(value, mode: str):
    """Differentiable walks compose tensors: constant bounds become 0-dim tensors."""
    if mode == "differentiable" and not isinstance(value, torch.Tensor):
        return torch.tensor(value)
    return value


class Walker:
    """Walks a model call by call, composing per-layer bounds and recording one row per call.

    Parameters
    ----------
    ctx : BoundContext
        The mode, iteration count and extras every rule of this walk receives (with the call's
        input shape and name filled in).
    """

    def __init__(self, ctx: BoundContext):
        if ctx.mode not in WALK_MODES:
            msg = f"Unknown walk mode {ctx.mode!r}; use one of {WALK_MODES}"
            raise ValueError(msg)
        self.ctx = ctx
        self.mode = ctx.mode
        self.rows: list[dict] = []
        self.inplace: list[str] = []  # leaves that modified their input in place

    def row(self, ctx: BoundContext, module, x_in, x_out, lb: LayerBound) -> None:
        """Record one call in the walk's table.

        Parameters
        ----------
        ctx : BoundContext
            The call's context (its ``name`` and ``depth`` are recorded).
        module : nn.Module
            The module called (its type and identity are recorded).
        x_in : Tensor
            The call's input, shape ``(N, *in_shape)``.
        x_out : Tensor
            The call's output, shape ``(N, *out_shape)``.
        lb : LayerBound
            The call's bound (a tensor value is recorded as a float).
        """
        value = lb.value
        if isinstance(value, torch.Tensor):  # per-input values (local bounds): the worst one
            value = float(value.detach().max()) if value.numel() else float("nan")
        self.rows.append({
            "layer": ctx.name, "type": type(module).__name__, "in_shape": tuple(x_in.shape[1:]),
            "out_shape": tuple(x_out.shape[1:]), "bound": value, "method": lb.method,
            "sound": lb.sound, "depth": ctx.depth, "_id": id(module),
        })  # fmt: skip

    def walk(self, module: nn.Module, x: torch.Tensor, ctx: BoundContext) -> Step:
        """(bound, sound, output) of ``module`` applied to ``x`` (a composite or a leaf).

        A module with a composition rule (:func:`~lipviz.bounds.registry.register_composite`)
        is walked by it; any other module is a leaf (:meth:`leaf`).

        Parameters
        ----------
        module : nn.Module
            The module to walk.
        x : Tensor
            Its input batch, shape ``(N, *in_shape)``.
        ctx : BoundContext
            The call's context (name and depth; the input shape is filled in per leaf).

        Returns
        -------
        bound : float or Tensor
            The module's bound (a 0-dim tensor in ``differentiable`` mode).
        sound : bool
            Whether every bound composed into it is guaranteed.
        output : Tensor
            ``module(x)``, shape ``(N, *out_shape)``.

        Raises
        ------
        TypeError
            For hooks lipviz cannot account for, or a module without a rule.
        ValueError
            If the output does not keep the batch dimension of ``x``.
        """
        check_hooks(module, ctx.name)
        rule = find_composite(module)
        if rule is not None and self.mode == "local" and not isinstance(module, nn.Sequential):
            msg = (
                f"{ctx.name or type(module).__name__} ({type(module).__name__}): local bounds "
                "propagate one box and one ball along a chain of layers; blocks with several "
                "branches are not supported"
            )
            raise TypeError(msg)
        if rule is not None:
            value, sound, out = rule(self, module, x, ctx)
        else:
            value, sound, out = self.leaf(module, x, ctx)
        if not isinstance(out, torch.Tensor) or out.dim() == 0 or out.shape[0] != x.shape[0]:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            msg = (
                f"{ctx.name or type(module).__name__} maps a batch of {x.shape[0]} inputs to "
                f"{got}: bounds need a module that keeps the batch dimension (one output per "
                "input)"
            )
            raise ValueError(msg)
        return value, sound, out

    def _apply(self, fn, x: torch.Tensor, name: str) -> torch.Tensor:
        version = x._version
        with torch.no_grad():
            out = fn(x)
        if x._version != version:
            self.inplace.append(name)
        return out

    def leaf(self, module: nn.Module, x: torch.Tensor, ctx: BoundContext) -> Step:
        """A module with a bound rule: run it, bound it, record it.

        The module runs without gradients; an in-place change of ``x`` is noted (for
        :meth:`check_unmodified`). Its submodules' hooks are checked too.

        Parameters
        ----------
        module : nn.Module
            A module with a bound rule (:func:`~lipviz.bounds.registry.register_bound`).
        x : Tensor
            Its input batch, shape ``(N, *in_shape)``.
        ctx : BoundContext
            The call's context; the rule receives it with ``in_shape = x.shape[1:]``.

        Returns
        -------
        tuple
            ``(bound, sound, output)`` as for :meth:`walk`.
        """
        for sub_name, sub in module.named_modules():
            if sub is not module:
                check_hooks(sub, f"{ctx.name}.{sub_name}")
        out = self._apply(module, x, ctx.name or type(module).__name__)
        if self.mode == "local":
            rule = find_local_rule(module)
            find_rule(module)  # the same refusals as the global walk
        else:
            rule = find_rule(module)
        call = ctx.at(x.shape[1:], inputs=x, outputs=out)
        lb = rule(module, call)
        self.row(call, module, x, out, lb)
        return _as_value(lb.value, self.mode), lb.sound, out

    def fused(self, rule, pair, x: torch.Tensor, ctx: BoundContext) -> Step:
        """Two consecutive modules bounded as one map by a fusion rule.

        Parameters
        ----------
        rule : callable
            ``rule((first, second), ctx) -> LayerBound``, from
            :func:`~lipviz.bounds.registry.find_fusion`.
        pair : tuple of nn.Module
            ``(first, second)``; the map is ``second(first(x))``.
        x : Tensor
            The input batch of ``first``, shape ``(N, *in_shape)``.
        ctx : BoundContext
            The call's context; the rule receives it with ``in_shape = x.shape[1:]``.

        Returns
        -------
        tuple
            ``(bound, sound, output)`` as for :meth:`walk`; one table row, under ``first``.
        """
        for mod in pair:
            check_hooks(mod, ctx.name)
            find_rule(mod)  # refuses subclasses that override the registered type
        out = self._apply(lambda t: pair[1](pair[0](t)), x, ctx.name)
        call = ctx.at(x.shape[1:])
        lb = rule(pair, call)
        self.row(call, pair[0], x, out, lb)
        return _as_value(lb.value, self.mode), lb.sound, out

    def check_unmodified(self, x: torch.Tensor, version: int, first: int, block: str) -> None:
        """Refuse a block whose parts modified its shared input in place.

        Parameters
        ----------
        x : Tensor
            The block's input, shared by its parts.
        version : int
            ``x._version`` before the block's parts ran.
        first : int
            ``len(walker.inplace)`` before the block's parts ran (to name the culprits).
        block : str
            The block's name, for the error message.

        Raises
        ------
        ValueError
            If ``x`` was modified in place.
        """
        if x._version != version:
            culprits = self.inplace[first:] or ["a module"]
            msg = (
                f"{block}: {culprits} modified the block's input in place, so its other parts "
                "see a changed input and the composed bound does not hold. Use inplace=False "
                "(e.g. nn.ReLU(inplace=False)) for modules that start a branch."
            )
            raise ValueError(msg)


@register_composite(nn.Sequential)
def _sequential(walker: Walker, seq: nn.Sequential, x, ctx: BoundContext) -> Step:
    r""":math:`\mathrm{Lip}(f_L \circ \dots \circ f_1) \le \prod_i \mathrm{Lip}(f_i)`, where two
    consecutive modules with a fusion rule (Conv2d then BatchNorm2d) count as one map."""
    children = list(seq._modules.items())  # every call: a repeated instance is counted each time
    total, sound, i = 1.0, True, 0
    while i < len(children):
        child, module = children[i]
        nxt = children[i + 1] if i + 1 < len(children) else (None, None)
        fusion = None if walker.mode == "local" else find_fusion(module, nxt[1])
        if fusion is not None:
            part = ctx.part(f"{child}+{nxt[0]}")
            value, ok, x = walker.fused(fusion, (module, nxt[1]), x, part)
            i += 2
        else:
            value, ok, x = walker.walk(module, x, ctx.part(child))
            i += 1
        total = total * value
        sound &= ok
    return total, sound, x


def walk(model: nn.Module, x: torch.Tensor, ctx: BoundContext) -> tuple[Walker, Step]:
    """Walk ``model`` on the probe batch ``x`` with rules in ``ctx``'s mode.

    The model must already be in eval mode (:func:`lipviz.state.eval_mode`).

    Parameters
    ----------
    model : nn.Module
        The model (any module with a composition or bound rule).
    x : Tensor
        A probe batch, shape ``(N, *in_shape)``; the walk checks that it is not modified.
    ctx : BoundContext
        Mode, iteration count, extras (``name=""`` and ``depth=0`` for the model itself).

    Returns
    -------
    walker : Walker
        The walker; its ``rows`` are the per-call table.
    step : tuple
        The composed result ``(bound, sound, output)`` (see :meth:`Walker.walk`), with
        ``output`` of shape ``(N, *out_shape)``.

    Raises
    ------
    ValueError
        If the walk modified ``x`` in place (or see :meth:`Walker.walk`).
    """
    walker = Walker(ctx)
    version = x._version
    step = walker.walk(model, x, ctx)
    if x._version != version:
        msg = (
            f"{walker.inplace} modify the model's input in place (the caller's tensor would "
            "change): use inplace=False on the first layers"
        )
        raise ValueError(msg)
    return walker, step


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
