"""Lipschitz bounds: one rule per module type, composed over a network by one walker; and
bound propagation (IBP, CROWN) of a ReLU network's margins over a ball."""

from . import conv as conv  # registers the convolution, batch-norm and pooling rules
from .compare import compare_estimators
from .context import (
    BoundContext,
    BoundRule,
    CompositeRule,
    FusionRule,
    LayerBound,
    SelfBounded,
)
from .guards import current_weight
from .local import LocalBound, local_lipschitz_bound
from .network import LipschitzBound, lipschitz_bound
from .propagation import PropagatedBounds, propagate_bounds
from .registry import register_bound, registered_types
from .rules import layer_bound
from .walker import walk

__all__ = [
    "BoundContext",
    "BoundRule",
    "CompositeRule",
    "FusionRule",
    "LayerBound",
    "SelfBounded",
    "LipschitzBound",
    "LocalBound",
    "PropagatedBounds",
    "compare_estimators",
    "current_weight",
    "layer_bound",
    "lipschitz_bound",
    "local_lipschitz_bound",
    "propagate_bounds",
    "register_bound",
    "registered_types",
    "walk",
]
