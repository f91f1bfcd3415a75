"""A registry of named model builders."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

__all__ = ["available", "create", "register"]

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def register(name: str) -> Callable:
    """Register a model builder under ``name`` (decorator)."""

    def decorate(fn):
        _BUILDERS[name] = fn
        return fn

    return decorate


def available() -> list[str]:
    """Names accepted by :func:`create`."""
    _load_builtin()
    return sorted(_BUILDERS)


def create(name: str, **kwargs) -> nn.Module:
    """Build the model registered as ``name``.

    Examples
    --------
    >>> model = create("toy-mlp", hidden=8, depth=1)
    >>> type(model).__name__
    'Sequential'
    """
    _load_builtin()
    if name not in _BUILDERS:
        msg = f"Unknown model {name!r}. Available: {', '.join(sorted(_BUILDERS))}"
        raise ValueError(msg)
    return _BUILDERS[name](**kwargs)


def _load_builtin() -> None:
    from . import convnets, lipconvnet, toy  # noqa: F401  (register on import)
