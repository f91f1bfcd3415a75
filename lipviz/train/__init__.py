"""Training: one loop with validation-split model selection and a metrics history."""

from .fit import FitResult, fit

__all__ = ["FitResult", "fit"]
