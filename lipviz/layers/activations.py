"""Gradient-norm-preserving activations: GroupSort and its special case MaxMin."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["GroupSort", "MaxMin", "group_sort"]


def group_sort(x: torch.Tensor, group_size: int, dim: int = 1) -> torch.Tensor:
    r"""Sort each consecutive group of ``group_size`` entries along ``dim`` (descending).

    A permutation of its input on every linear piece, so it is 1-Lipschitz in l2 and preserves
    gradient norms (Anil, Lucas and Grosse, 2019).

    Examples
    --------
    >>> group_sort(torch.tensor([[1.0, 3.0, 2.0, 0.0]]), 2).tolist()
    [[3.0, 1.0, 2.0, 0.0]]
    """
    n = x.shape[dim]
    if n % group_size:
        msg = f"size {n} along dim {dim} is not divisible by the group size {group_size}"
        raise ValueError(msg)
    shape = list(x.shape)
    shape[dim : dim + 1] = [n // group_size, group_size]
    return x.reshape(shape).sort(dim=dim + 1, descending=True).values.reshape(x.shape)


class GroupSort(nn.Module):
    """GroupSort activation over channels (dim 1); 1-Lipschitz and gradient-norm-preserving."""

    def __init__(self, group_size: int = 2):
        super().__init__()
        if group_size < 2:
            msg = f"group_size must be >= 2, got {group_size}"
            raise ValueError(msg)
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return group_sort(x, self.group_size, dim=1)

    def lipschitz_bound(self) -> float:
        return 1.0

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"


class MaxMin(GroupSort):
    """MaxMin: GroupSort with groups of 2, i.e. (max(a, b), min(a, b)) for each channel pair."""

    def __init__(self):
        super().__init__(2)

    def extra_repr(self) -> str:
        return ""
