"""A registry of named model builders.

The built-in builders (:mod:`lipviz.models.convnets`, :mod:`lipviz.models.lipconvnet`,
:mod:`lipviz.models.toy`) register themselves when :mod:`lipviz.models` is imported, which
happens before this module can be used; this module imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

__all__ = ["available", "create", "register"]

_BUILDERS: dict[str, Callable[..., nn.Module]] = {}


def register(name: str) -> Callable:
    """Register a model builder under ``name`` (decorator).

    A later registration under the same name replaces the earlier one.

    Parameters
    ----------
    name : str
        The name :func:`create` will accept.

    Returns
    -------
    Callable
        A decorator that records the builder and returns it unchanged.

    Notes
    -----
    Usage: ``@register("my-net")`` above ``def my_net(**kwargs) -> nn.Module``; then
    ``create("my-net", **kwargs)`` calls it.
    """

    def decorate(fn):
        _BUILDERS[name] = fn
        return fn

    return decorate


def available() -> list[str]:
    """Names accepted by :func:`create`.

    Returns
    -------
    list of str
        Sorted names of the built-in and registered builders.

    Examples
    --------
    >>> {"lipconvnet", "lmt-mnist", "4c3f", "toy-mlp"} <= set(available())
    True
    """
    return sorted(_BUILDERS)


def create(name: str, **kwargs) -> nn.Module:
    """Build the model registered as ``name``.

    Parameters
    ----------
    name : str
        One of :func:`available`.
    **kwargs
        Passed to the builder (see :func:`~lipviz.models.lipconvnet.lipconvnet`,
        :func:`~lipviz.models.convnets.lmt_mnist`, :func:`~lipviz.models.convnets.four_c_three_f`
        and :func:`~lipviz.models.toy.toy_mlp`).

    Returns
    -------
    nn.Module
        The model the builder returns.

    Raises
    ------
    ValueError
        For an unknown name.

    Examples
    --------
    >>> model = create("toy-mlp", hidden=8, depth=1)
    >>> type(model).__name__
    'Sequential'
    """
    if name not in _BUILDERS:
        msg = f"Unknown model {name!r}. Available: {', '.join(sorted(_BUILDERS))}"
        raise ValueError(msg)
    return _BUILDERS[name](**kwargs)
