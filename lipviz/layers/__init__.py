"""Layers with known Lipschitz constants: activations and residual/concatenation blocks."""

from .activations import GroupSort, MaxMin, group_sort
from .blocks import Concat, Residual
from .export import to_plain

__all__ = ["Concat", "GroupSort", "MaxMin", "Residual", "group_sort", "to_plain"]
