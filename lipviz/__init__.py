"""lipviz: Lipschitz-constrained networks and deterministic l2 certified robustness.

The public API is what this module re-exports (``tests/test_api.py`` checks that it resolves).
The flow of the package: ``data -> models/layers -> bounds -> certify -> train -> viz``.
"""

from importlib.metadata import PackageNotFoundError, version

from . import attacks, bounds, config, data, experiments, functional, layers, models, planar, train
from .bounds import LipschitzBound, lipschitz_bound, register_bound
from .certify import CertifiedRadii, Certifier, certified_accuracy, certified_radius, margins
from .config import resolve
from .data import Normalize, available_datasets, load_dataset, make_toy

try:
    __version__ = version("lipviz")
except PackageNotFoundError:  # a source tree that was not pip-installed
    __version__ = "0+unknown"

__all__ = [
    "CertifiedRadii",
    "Certifier",
    "attacks",
    "layers",
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
    "train",
]
