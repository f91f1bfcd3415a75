"""Residual addition and concatenation blocks, whose bounds compose from their branches."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Concat", "Residual"]


class Residual(nn.Module):
    r"""``branch(x) + shortcut(x)``; :math:`\mathrm{Lip} \le \mathrm{Lip}(\text{branch}) +
    \mathrm{Lip}(\text{shortcut})`. The shortcut defaults to the identity."""

    def __init__(self, branch: nn.Module, shortcut: nn.Module | None = None):
        super().__init__()
        self.branch = branch
        self.shortcut = shortcut if shortcut is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.branch(x) + self.shortcut(x)


class Concat(nn.Module):
    r"""Concatenate the outputs of several branches along ``dim``;
    :math:`\mathrm{Lip} \le \sqrt{\sum_i \mathrm{Lip}(\text{branch}_i)^2}`."""

    def __init__(self, *branches: nn.Module, dim: int = 1):
        super().__init__()
        if not branches:
            msg = "Concat needs at least one branch"
            raise ValueError(msg)
        self.branches = nn.ModuleList(branches)
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([b(x) for b in self.branches], dim=self.dim)
