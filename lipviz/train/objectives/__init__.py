"""Training objectives: ``objective(model, x, y, lip, epoch) -> (loss, metrics)``.

``lip`` is a :class:`~lipviz.train.lipschitz.PowerIterationBound` (or None for plain CE) and
``epoch`` a float (fractional epochs), used by schedules such as LMT's warm-up of ``c``.

This package is the one door to import; its modules (``_global``, ``_local``) are private.
"""

from ._global import LMT, CertificateRegularized, CrossEntropy, SpectralRegularized, linear_warmup
from ._local import LocalLip

__all__ = [
    "CertificateRegularized",
    "CrossEntropy",
    "LMT",
    "LocalLip",
    "SpectralRegularized",
    "linear_warmup",
]
