"""Last layers: last-layer normalisation (LLN) as a parametrised ``nn.Linear``."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize

__all__ = ["LLN", "RowNormalize"]


class RowNormalize(nn.Module):
    """Parametrisation ``W -> W / ||W_row||`` (each row to unit l2 norm)."""

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight / weight.norm(dim=1, keepdim=True).clamp_min(1e-12)


class LLN(nn.Linear):
    r"""Last-layer normalisation (Singla, Singla and Feizi, ICLR 2022): a Linear layer whose rows
    are renormalised to unit norm at every forward pass, plus a bias.

    Its certificate is the pairwise one, :math:`\min_{j \ne y} (f_y - f_j) /
    (L\,\|\tilde w_y - \tilde w_j\|)`, over **all** classes and without :math:`\sqrt2`;
    :func:`lipviz.certified_radius` uses it automatically because LLN is an ``nn.Linear``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__(in_features, out_features, bias=bias)
        parametrize.register_parametrization(self, "weight", RowNormalize())

    def to_plain(self) -> nn.Linear:
        """An ``nn.Linear`` with the normalised rows and the bias."""
        plain = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None)
        plain = plain.to(device=self.weight.device, dtype=self.weight.dtype)
        with torch.no_grad():
            plain.weight.copy_(self.weight)
            if self.bias is not None:
                plain.bias.copy_(self.bias)
        return plain
