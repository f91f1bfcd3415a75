"""Certified l2 radii from a Lipschitz bound or bound propagation, and certified accuracy.

:mod:`lipviz.certify.radii` holds the :class:`Certifier` (radii from logits and a bound) and
:mod:`lipviz.certify.accuracy` the functions over a model's inputs; all are importable from
here.
"""

from ..functional import margins
from .accuracy import certified_accuracy, certified_radius
from .last_layer import last_layer_certificates, lln_topk_trap
from .local import local_certified, local_certified_radius, local_worst_logits, predict
from .propagation import propagation_certified, propagation_certified_radius
from .radii import CertifiedRadii, Certifier, round_down
from .smoothing import SmoothedCertificate, smoothed_certify

__all__ = [
    "CertifiedRadii",
    "SmoothedCertificate",
    "Certifier",
    "certified_accuracy",
    "certified_radius",
    "last_layer_certificates",
    "lln_topk_trap",
    "local_certified",
    "local_certified_radius",
    "local_worst_logits",
    "margins",
    "predict",
    "propagation_certified",
    "propagation_certified_radius",
    "round_down",
    "smoothed_certify",
]
