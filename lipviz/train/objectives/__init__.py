"""Training objectives: ``objective(model, x, y, lip, epoch) -> (loss, metrics)``.

``lip`` is a :class:`~lipviz.train.lipschitz.PowerIterationBound` (or None for plain CE) and
``epoch`` a float (fractional epochs), used by schedules such as LMT's warm-up of ``c``.

This package is the one door to import; its modules (``_adversarial``, ``_global``,
``_local``, ``_protocol``) are private.
"""

from ._adversarial import Adversarial
from ._global import LMT, CertificateRegularized, CrossEntropy, SpectralRegularized, linear_warmup
from ._local import LocalLip
from ._protocol import Objective

__all__ = [
    "Adversarial",
    "Objective",
    "CertificateRegularized",
    "CrossEntropy",
    "LMT",
    "LocalLip",
    "SpectralRegularized",
    "linear_warmup",
]
