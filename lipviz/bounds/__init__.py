"""Lipschitz bounds: one rule per module type, composed over a network."""

from . import conv as conv  # registers the convolution, batch-norm and pooling rules
from .compare import compare_estimators, exact_operator_norm, local_jacobian_norms
from .guards import current_weight
from .network import LipschitzBound, lipschitz_bound, register_composite
from .rules import LayerBound, layer_bound, register_bound, registered_types

__all__ = [
    "LayerBound",
    "compare_estimators",
    "current_weight",
    "exact_operator_norm",
    "local_jacobian_norms",
    "LipschitzBound",
    "layer_bound",
    "lipschitz_bound",
    "register_bound",
    "register_composite",
    "registered_types",
]
