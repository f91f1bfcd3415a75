"""Layers with known Lipschitz constants: activations and residual/concatenation blocks."""

from .activations import GroupSort, Householder, Householder2, MaxMin, group_sort
from .blocks import Concat, Residual
from .clipped import ClippedMaxMin, ClippedReLU
from .export import to_plain
from .linear import LLN, RowNormalize
from .soc import SOC, OrthogonalLinear, soc_bound, terms_for_tolerance

__all__ = [
    "SOC",
    "ClippedMaxMin",
    "ClippedReLU",
    "Concat",
    "GroupSort",
    "Householder",
    "Householder2",
    "LLN",
    "MaxMin",
    "OrthogonalLinear",
    "Residual",
    "RowNormalize",
    "group_sort",
    "soc_bound",
    "terms_for_tolerance",
    "to_plain",
]
