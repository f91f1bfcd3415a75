"""Named models: ``create(name, **kw)`` and ``available()``.

Importing the package registers every built-in builder (eagerly, in the order below).
"""

from . import convnets, lipconvnet, mlp, toy
from .registry import available, create, register

__all__ = ["available", "convnets", "create", "lipconvnet", "mlp", "register", "toy"]
