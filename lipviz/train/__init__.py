"""Training: one loop (Trainer) with pluggable objectives, checkpoint/resume and selection on
the validation split."""

from .checkpoints import CheckpointError, compact_checkpoint
from .fit import fit
from .lipschitz import PowerIterationBound
from .objectives import (
    LMT,
    Adversarial,
    CertificateRegularized,
    CrossEntropy,
    LocalLip,
    SpectralRegularized,
    linear_warmup,
)
from .settings import FitResult, TrainConfig
from .trainer import Trainer

__all__ = [
    "LMT",
    "Adversarial",
    "CertificateRegularized",
    "CheckpointError",
    "CrossEntropy",
    "FitResult",
    "LocalLip",
    "PowerIterationBound",
    "SpectralRegularized",
    "TrainConfig",
    "compact_checkpoint",
    "Trainer",
    "fit",
    "linear_warmup",
]
