"""What the trainer asks of an objective: the :class:`Objective` protocol."""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import nn

__all__ = ["Objective"]


@runtime_checkable
class Objective(Protocol):
    """``objective(model, x, y, lip, epoch) -> (loss, metrics)``, the training loss of a method.

    ``metrics`` holds at least ``"logits"`` (the batch's logits, for the training accuracy) and
    any scalars to log per epoch (e.g. LMT's ``c``). :class:`~lipviz.train.Trainer` calls it once
    per batch.

    Parameters
    ----------
    model : nn.Module
        The model, or its DistributedDataParallel wrapper under ``torchrun`` (call it for
        logits; reach its layers through :func:`~lipviz.train.objectives.unwrap`).
    x : Tensor
        The batch, ``(N, *input_shape)``.
    y : Tensor
        Its labels, ``(N,)``.
    lip : PowerIterationBound or None
        The differentiable Lipschitz estimate, when ``needs_lipschitz`` is true.
    epoch : float
        The fractional epoch, for schedules.

    Attributes
    ----------
    needs_lipschitz : bool
        The trainer passes a :class:`~lipviz.train.PowerIterationBound` as ``lip``.
    walks_model : bool
        The objective walks the layers itself (then it trains in one process, not under
        ``torchrun``).
    """

    needs_lipschitz: ClassVar[bool]
    walks_model: ClassVar[bool]

    def __call__(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, lip: Any, epoch: float
    ) -> tuple[torch.Tensor, dict[str, Any]]: ...
