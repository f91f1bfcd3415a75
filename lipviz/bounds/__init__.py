"""Lipschitz bounds: one rule per module type, composed over a network."""

from .network import LipschitzBound, lipschitz_bound
from .rules import LayerBound, layer_bound, register_bound, registered_types

__all__ = [
    "LayerBound",
    "LipschitzBound",
    "layer_bound",
    "lipschitz_bound",
    "register_bound",
    "registered_types",
]
