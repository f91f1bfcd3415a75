"""What a bound rule receives and returns: :class:`BoundContext` and :class:`LayerBound`, the
walk modes, and the call signatures of every kind of rule as protocols (:class:`BoundRule`,
:class:`FusionRule`, :class:`CompositeRule`) and of a layer's own bound method
(:class:`SelfBounded`). Like :mod:`lipviz.bounds.registry`, this module imports nothing else of
lipviz.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch

__all__ = [
    "DEFAULT_N_ITER",
    "MODES",
    "WALK_MODES",
    "BoundContext",
    "BoundRule",
    "CompositeRule",
    "FusionRule",
    "LayerBound",
    "SelfBounded",
]

MODES = ("sound", "estimate")
"""Modes of a bound a user asks for: guaranteed (``sound``) or power iteration (``estimate``)."""

WALK_MODES = (*MODES, "differentiable", "local")
"""The modes a rule may meet; ``differentiable`` is the training-time estimate
(:class:`lipviz.train.PowerIterationBound`): tensor values with gradients in the weights;
``local`` is the local bound on balls around inputs (:mod:`lipviz.bounds.local`), walked with
the *local* rules (``register_bound(..., kind="local")``), whose values have shape ``(N,)``."""

DEFAULT_N_ITER = 100
"""Power-iteration steps of ``estimate`` mode (the one name for iteration counts: ``n_iter``)."""


@dataclass(frozen=True)
class LayerBound:
    """A per-layer Lipschitz bound: its value, how it was obtained and whether it is sound.

    ``value`` is a float, or a 0-dim tensor with gradients in ``differentiable`` mode.

    Parameters
    ----------
    value : float or Tensor
        The l2 Lipschitz bound (or estimate) of the layer; a 0-dim tensor only in
        ``differentiable`` mode.
    method : str
        How it was obtained, for tables (e.g. ``"exact SVD"``).
    sound : bool
        True only for a guaranteed upper bound; False for estimates.

    Examples
    --------
    >>> LayerBound(1.0, "1 (analytic)", True).sound
    True
    """

    value: float | torch.Tensor
    method: str
    sound: bool


@dataclass(frozen=True)
class BoundContext:
    """What a rule knows about the call it bounds.

    Attributes
    ----------
    in_shape : tuple of int
        Shape of the module's input, without the batch dimension.
    mode : str
        One of :data:`WALK_MODES`.
    n_iter : int
        Power-iteration steps (``estimate`` mode).
    name : str
        The call's path in the model (``"3.branch.0"``); ``""`` for the model itself.
    depth : int
        Nesting inside residual/concat blocks (0 at the top level).
    vectors : object
        ``differentiable`` mode: the owner of the persistent power-iteration vectors, with a
        method ``sigma(ctx, op) -> Tensor`` for a linear map ``op``.
    extras : Mapping
        Room for what other walks carry per call (a local bound's box, ball and masks).
    """

    in_shape: tuple[int, ...] = ()
    mode: str = "sound"
    n_iter: int = DEFAULT_N_ITER
    name: str = ""
    depth: int = 0
    vectors: Any = None
    extras: Mapping = field(default_factory=dict)
    inputs: Any = None
    outputs: Any = None

    def part(self, suffix: str, *, nested: bool = False) -> BoundContext:
        """The context of a part of this call (``nested``: one level deeper, e.g. a branch).

        Parameters
        ----------
        suffix : str
            The part's name inside this call (a child's name, e.g. ``"0"`` or ``"branch"``).
        nested : bool
            Whether the part is one level deeper (``depth + 1``), e.g. a residual branch.

        Returns
        -------
        BoundContext
            A copy named ``f"{name}.{suffix}"`` (just ``suffix`` at the top level).

        Examples
        --------
        >>> ctx = BoundContext((3,), name="net")
        >>> ctx.part("0").name, ctx.part("branch", nested=True).depth
        ('net.0', 1)
        """
        name = f"{self.name}.{suffix}" if self.name else str(suffix)
        return dataclasses.replace(self, name=name, depth=self.depth + int(nested))

    def at(self, in_shape, inputs=None, outputs=None) -> BoundContext:
        """The same context for inputs of shape ``in_shape``.

        Parameters
        ----------
        in_shape : sequence of int
            The input shape without the batch dimension (e.g. ``x.shape[1:]``).

        Returns
        -------
        BoundContext
            A copy with ``in_shape`` as a tuple of ints.

        Examples
        --------
        >>> BoundContext().at([1, 28, 28]).in_shape
        (1, 28, 28)
        """
        shape = tuple(int(s) for s in in_shape)
        return dataclasses.replace(self, in_shape=shape, inputs=inputs, outputs=outputs)


class BoundRule(Protocol):
    """``rule(module, ctx) -> LayerBound``: a layer's bound (``register_bound(T)``), or its
    local bound (``register_bound(T, kind="local")``, per-input values of shape ``(N,)``).

    Parameters
    ----------
    module : nn.Module
        The layer (an instance of the registered type).
    ctx : BoundContext
        The call: input shape, mode, iteration count, name.
    """

    def __call__(self, module: Any, ctx: BoundContext, /) -> LayerBound: ...


class FusionRule(Protocol):
    """``rule((first, second), ctx) -> LayerBound``: two consecutive modules bounded as one map
    (``register_bound(A, B, kind="fusion")``).

    Parameters
    ----------
    pair : tuple of nn.Module
        The first module and the one that directly follows it.
    ctx : BoundContext
        The call; ``ctx.in_shape`` is the input shape of the first module.
    """

    def __call__(self, pair: Any, ctx: BoundContext, /) -> LayerBound: ...


class CompositeRule(Protocol):
    """``rule(walker, module, x, ctx) -> (bound, sound, output)``: a container's bound from its
    parts' (``register_bound(T, kind="composite")``).

    Parameters
    ----------
    walker : Walker
        The walk in progress; ``walker.walk(part, x_part, ctx.part(name))`` bounds a part.
    module : nn.Module
        The container.
    x : Tensor
        The container's input batch ``(N, *in_shape)``.
    ctx : BoundContext
        The call.
    """

    def __call__(
        self, walker: Any, module: Any, x: torch.Tensor, ctx: BoundContext, /
    ) -> tuple[Any, bool, torch.Tensor]: ...


@runtime_checkable
class SelfBounded(Protocol):
    """A layer that states its own bound: ``layer.lipschitz_bound(in_shape=None) -> float``.

    The one signature of every lipviz layer's own bound method. ``in_shape`` is the input shape
    without the batch dimension; layers whose bound does not depend on it ignore it, and those
    whose bound does (SOC: the FFT bound at the input's size) refuse None.

    Parameters
    ----------
    in_shape : tuple of int, optional
        The input shape without the batch dimension.
    """

    def lipschitz_bound(self, in_shape: tuple[int, ...] | None = None) -> float: ...
