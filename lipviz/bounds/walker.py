"""The one walker: follows a model's forward pass call by call and composes per-layer bounds
(with the Sequential rule). :mod:`lipviz.bounds.network` builds the model-level API on it.

The walker follows the model's forward pass call by call: a module instance used twice is
multiplied in twice, a block's parts see exactly the tensors its ``forward`` gives them. It
refuses what it does not understand, with an error naming the module: a type without a rule, a
subclass that overrides a registered type's methods, a forward hook or an unknown pre-hook, a
residual whose two parts have different shapes (broadcasting), a block part that modifies the
block's input in place.
"""

from __future__ import annotations

import torch
from torch import nn

from .context import WALK_MODES, BoundContext, LayerBound
from .guards import check_hooks
from .registry import find_composite, find_fusion, find_local_rule, find_rule, register_bound

__all__ = ["Walker", "walk"]


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
        self.rows.append(
            {
                "layer": ctx.name,
                "type": type(module).__name__,
                "in_shape": tuple(x_in.shape[1:]),
                "out_shape": tuple(x_out.shape[1:]),
                "bound": value,
                "method": lb.method,
                "sound": lb.sound,
                "depth": ctx.depth,
                "_id": id(module),
            }
        )

    def walk(self, module: nn.Module, x: torch.Tensor, ctx: BoundContext) -> Step:
        """(bound, sound, output) of ``module`` applied to ``x`` (a composite or a leaf).

        A module with a composition rule (``register_bound(T, kind="composite")``)
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


@register_bound(nn.Sequential, kind="composite")
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
