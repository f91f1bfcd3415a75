"""Certified l2 radii from a Lipschitz bound, and certified accuracy.

:mod:`lipviz.certify.radii` holds the :class:`Certifier` (radii from logits and a bound) and
:mod:`lipviz.certify.accuracy` the functions over a model's inputs; all are importable from
here.
"""

from ..functional import margins
from .accuracy import certified_accuracy, certified_radius
from .radii import CertifiedRadii, Certifier, check_labels, round_down

__all__ = [
    "CertifiedRadii",
    "Certifier",
    "certified_accuracy",
    "certified_radius",
    "check_labels",
    "margins",
    "round_down",
]
