"""What a bound rule receives and returns: :class:`BoundContext` and :class:`LayerBound`, with
the walk modes. Like :mod:`lipviz.bounds.registry`, which re-exports them, this module imports
nothing else of lipviz.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["DEFAULT_N_ITER", "MODES", "WALK_MODES", "BoundContext", "LayerBound"]

MODES = ("sound", "estimate")
"""Modes of a bound a user asks for: guaranteed (``sound``) or power iteration (``estimate``)."""

WALK_MODES = (*MODES, "differentiable", "local")
"""The modes a rule may meet; ``differentiable`` is the training-time estimate
(:class:`lipviz.train.PowerIterationBound`): tensor values with gradients in the weights;
``local`` is the local bound on balls around inputs (:mod:`lipviz.bounds.local`), walked with
the *local* rules (``register_bound(..., local=True)``), whose values have shape ``(N,)``."""

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

    value: float
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
    vectors: object = None
    extras: Mapping = field(default_factory=dict)
    inputs: object = None
    outputs: object = None

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
