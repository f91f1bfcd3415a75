"""Named models: ``create(name, **kw)`` and ``available()``."""

from .registry import available, create, register

__all__ = ["available", "create", "register"]
