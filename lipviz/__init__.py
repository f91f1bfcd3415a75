"""lipviz: Lipschitz-constrained networks and deterministic l2 certified robustness.

The public API is what this module re-exports (``tests/test_api.py`` checks that it resolves).
The flow of the package: ``data -> models/layers -> bounds -> certify -> train -> viz``.
"""

from importlib.metadata import PackageNotFoundError, version

from . import (
    attacks,
    auditing,
    bounds,
    config,
    data,
    experiments,
    functional,
    layers,
    models,
    planar,
    regions,
    train,
)
from .auditing import AuditReport, audit
from .bounds import LipschitzBound, lipschitz_bound, register_bound
from .certify import CertifiedRadii, Certifier, certified_accuracy, certified_radius, margins
from .config import resolve
from .data import Normalize, available_datasets, load_dataset, make_toy
from .layers import to_plain

try:
    __version__ = version("lipviz")
except PackageNotFoundError:  # a source tree that was not pip-installed
    __version__ = "0+unknown"

__all__ = [
    "CertifiedRadii",
    "Certifier",
    "AuditReport",
    "attacks",
    "audit",
    "auditing",
    "layers",
    "regions",
    "LipschitzBound",
    "Normalize",
    "__version__",
    "available_datasets",
    "bounds",
    "certified_accuracy",
    "certified_radius",
    "config",
    "data",
    "experiments",
    "functional",
    "lipschitz_bound",
    "load_dataset",
    "make_toy",
    "margins",
    "models",
    "planar",
    "register_bound",
    "resolve",
    "to_plain",
    "train",
]
