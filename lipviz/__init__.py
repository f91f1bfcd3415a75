"""lipviz: Lipschitz-constrained networks and deterministic l2 certified robustness.

The public API is the list below (``tests/test_api.py`` fails when a name appears or disappears
without the list being updated). The package reads in the order of its flow::

    data -> layers -> models -> bounds (+ exact oracles) -> certify -> train -> attacks/auditing
         -> experiments -> viz -> batch (the ``lipviz`` command line) -> book

Submodules stay importable for everything else (``lipviz.viz.widgets``, ``lipviz.exact``, ...).
"""

import importlib.metadata as _metadata

from .attacks import AttackResult, minimal_l2, pgd_l2
from .auditing import AuditReport, audit
from .bounds import (
    BoundContext,
    LayerBound,
    LipschitzBound,
    LocalBound,
    PropagatedBounds,
    layer_bound,
    lipschitz_bound,
    local_lipschitz_bound,
    propagate_bounds,
    register_bound,
)
from .certify import (
    CertifiedRadii,
    Certifier,
    certified_accuracy,
    certified_radius,
    local_certified,
    local_certified_radius,
    margins,
    propagation_certified,
    propagation_certified_radius,
    smoothed_certify,
)
from .data import Normalize, available_datasets, load_dataset, make_toy
from .experiments import EXPERIMENTS, Experiment, register_experiment, resolve
from .layers import (
    LLN,
    SOC,
    ClippedMaxMin,
    ClippedReLU,
    Concat,
    GroupSort,
    Householder,
    MaxMin,
    OrthogonalLinear,
    Residual,
    to_plain,
)
from .models import available as available_models
from .models import create as create_model
from .state import eval_mode, seeded
from .train import PowerIterationBound, TrainConfig, Trainer

try:
    __version__ = _metadata.version("lipviz")
except _metadata.PackageNotFoundError:  # a source tree that was not pip-installed
    __version__ = "0+unknown"

__all__ = [
    "LLN",
    "EXPERIMENTS",
    "SOC",
    "AttackResult",
    "AuditReport",
    "BoundContext",
    "CertifiedRadii",
    "Certifier",
    "ClippedMaxMin",
    "ClippedReLU",
    "Experiment",
    "Concat",
    "GroupSort",
    "Householder",
    "LayerBound",
    "LipschitzBound",
    "LocalBound",
    "MaxMin",
    "Normalize",
    "OrthogonalLinear",
    "PowerIterationBound",
    "PropagatedBounds",
    "Residual",
    "TrainConfig",
    "Trainer",
    "__version__",
    "audit",
    "available_datasets",
    "available_models",
    "certified_accuracy",
    "certified_radius",
    "create_model",
    "eval_mode",
    "layer_bound",
    "lipschitz_bound",
    "load_dataset",
    "local_certified",
    "local_certified_radius",
    "local_lipschitz_bound",
    "make_toy",
    "margins",
    "minimal_l2",
    "pgd_l2",
    "propagate_bounds",
    "propagation_certified",
    "propagation_certified_radius",
    "register_bound",
    "register_experiment",
    "resolve",
    "seeded",
    "smoothed_certify",
    "to_plain",
]
