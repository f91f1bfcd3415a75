"""Last layers: last-layer normalisation (LLN) as a parametrised ``nn.Linear``."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize

__all__ = ["LLN", "RowNormalize"]


class RowNormalize(nn.Module):
    r"""Parametrisation ``W -> W / ||W_row||`` (each row to unit l2 norm).

    .. math:: \tilde w_i = w_i / \max(\|w_i\|_2, 10^{-12}) .

    Used with :func:`torch.nn.utils.parametrize.register_parametrization`, as in :class:`LLN`.
    The constructor takes no arguments; a call takes the weight:

    Parameters
    ----------
    weight : Tensor
        Argument of :meth:`forward`: the unconstrained weight, shape ``(out_features,
        in_features)``. The result has the same shape.

    Examples
    --------
    >>> RowNormalize()(torch.tensor([[3.0, 4.0], [0.0, 2.0]])).tolist()
    [[0.6000000238418579, 0.800000011920929], [0.0, 1.0]]
    """

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight / weight.norm(dim=1, keepdim=True).clamp_min(1e-12)


class LLN(nn.Linear):
    r"""Last-layer normalisation (Singla, Singla and Feizi, ICLR 2022): a Linear layer whose rows
    are renormalised to unit norm at every forward pass, plus a bias.

    It computes :math:`z \mapsto \tilde W z + b` with rows :math:`\tilde w_i = w_i / \|w_i\|_2`
    (:class:`RowNormalize`).

    Its certificate is the pairwise one, :math:`\min_{j \ne y} (f_y - f_j) /
    (L\,\|\tilde w_y - \tilde w_j\|)`, over **all** classes and without :math:`\sqrt2`;
    :func:`lipviz.certified_radius` uses it automatically because LLN is an ``nn.Linear``.

    Parameters
    ----------
    in_features : int
        Input features; inputs have shape ``(N, in_features)``.
    out_features : int
        Output features (classes); outputs have shape ``(N, out_features)``.
    bias : bool
        Whether to add a learned bias.

    Examples
    --------
    >>> layer = LLN(4, 3)
    >>> layer(torch.zeros(2, 4)).shape, layer.weight.norm(dim=1).allclose(torch.ones(3))
    (torch.Size([2, 3]), True)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__(in_features, out_features, bias=bias)
        parametrize.register_parametrization(self, "weight", RowNormalize())

    def to_plain(self) -> nn.Linear:
        """An ``nn.Linear`` with the normalised rows and the bias.

        Returns
        -------
        nn.Linear
            Weight of shape ``(out_features, in_features)`` with unit-norm rows, on the same
            device and dtype.
        """
        plain = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None)
        plain = plain.to(device=self.weight.device, dtype=self.weight.dtype)
        with torch.no_grad():
            plain.weight.copy_(self.weight)
            if self.bias is not None:
                plain.bias.copy_(self.bias)
        return plain
