"""Type and range checks shared by the frozen configs.

Each config calls :func:`check` from its ``__post_init__``, so a preset, :func:`lipviz.resolve`,
a config rebuilt from a run folder's ``config.json`` and a direct construction are all checked
the same way. Every error is a :class:`ValueError` on one line that names the field and the value.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import types
import typing

__all__ = ["DATASET_SHAPES", "check", "check_types"]

DATASET_SHAPES = {
    "mnist": (1, 28, 28),
    "fashion-mnist": (1, 28, 28),
    "mnist5k": (1, 28, 28),
    "cifar10": (3, 32, 32),
    "cifar100": (3, 32, 32),
    "cifar10-jpeg": (3, 32, 32),
    "cifar10-exact-subset": (3, 32, 32),
}
"""The input shape ``(C, H, W)`` of every dataset of :func:`lipviz.load_dataset` (inputs in
[0, 1]); radii are checked against the l2 diameter of this box."""


def _type_name(hint) -> str:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return " or ".join(_type_name(h) for h in typing.get_args(hint))
    if hint is type(None):
        return "None"
    if typing.get_origin(hint) is tuple:
        return f"tuple of {_type_name(typing.get_args(hint)[0])}"
    return hint.__name__


def _is(value, hint) -> bool:
    """Whether ``value`` has the type ``hint`` (bool is not a number, int is a float)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return any(_is(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if typing.get_origin(hint) is tuple:
        item = typing.get_args(hint)[0]
        return isinstance(value, tuple) and all(_is(v, item) for v in value)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    return isinstance(value, hint)


def check_types(obj) -> None:
    """Raise a ValueError when a field of the dataclass ``obj`` does not have its declared type.

    Parameters
    ----------
    obj : dataclass instance
        Its fields are compared with the class's annotations (``int``, ``float``, ``bool``,
        ``str``, ``X | None`` and ``tuple[X, ...]``).

    Raises
    ------
    ValueError
        ``"<Class>.<field> expects <type>, got <value>"``.
    """
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if not _is(value, hints[f.name]):
            msg = (
                f"{type(obj).__name__}.{f.name} expects {_type_name(hints[f.name])}, got {value!r}"
            )
            raise ValueError(msg)


def _fail(obj, name: str, what: str) -> None:
    msg = f"{type(obj).__name__}.{name} {what}, got {getattr(obj, name)!r}"
    raise ValueError(msg)


def _radius_bound(obj, name: str, value: float, dataset: str | None) -> None:
    if not (math.isfinite(value) and value >= 0):
        _fail(obj, name, "must be a finite radius >= 0")
    if dataset is None:
        return
    dim = math.prod(DATASET_SHAPES[dataset])
    diameter = math.sqrt(dim)
    if value > diameter:
        msg = (
            f"{type(obj).__name__}.{name} has radius {value:g}, larger than {diameter:.4g}, the "
            f"l2 diameter of {dataset}'s input box [0, 1]^{dim}: radii are in input units "
            f"(36/255 = {36 / 255:.4f}), not in 0-255 pixel units"
        )
        raise ValueError(msg)


def check(
    obj,
    *,
    counts=(),
    naturals=(),
    positive=(),
    nonnegative=(),
    fractions=(),
    below_one=(),
    choices=None,
    radii=(),
    radius_lists=(),
    milestones=(),
    dataset: str | None = None,
) -> None:
    """Check the types (:func:`check_types`) and the ranges of the fields of ``obj``.

    Parameters
    ----------
    obj : dataclass instance
        The config.
    counts : sequence of str
        Integers >= 1 (epochs, sizes, widths, steps).
    naturals : sequence of str
        Integers >= 0 (seeds).
    positive : sequence of str
        Finite numbers > 0 (learning rates, temperatures).
    nonnegative : sequence of str
        Finite numbers >= 0 (weights that may be 0, epoch counts of a ramp).
    fractions : sequence of str
        Numbers in [0, 1].
    below_one : sequence of str
        Numbers in [0, 1) (momentum).
    choices : dict, optional
        Field name -> the allowed values.
    radii : sequence of str
        Radii in input units: finite, >= 0, and at most the l2 diameter of ``dataset``'s input
        box.
    radius_lists : sequence of str
        Non-empty tuples of such radii, increasing.
    milestones : sequence of str
        Tuples of fractions in (0, 1], increasing.
    dataset : str, optional
        The dataset whose input box bounds the radii (a key of :data:`DATASET_SHAPES`).

    Raises
    ------
    ValueError
        On one line, naming the field and the value.

    Examples
    --------
    >>> from lipviz.config import LMTConfig
    >>> LMTConfig(n_test=0)
    Traceback (most recent call last):
    ...
    ValueError: LMTConfig.n_test must be >= 1, got 0
    """
    check_types(obj)
    for name, allowed in (choices or {}).items():
        if getattr(obj, name) not in allowed:
            _fail(obj, name, f"must be one of {', '.join(map(repr, allowed))}")
    for name in counts:
        if getattr(obj, name) < 1:
            _fail(obj, name, "must be >= 1")
    for name in naturals:
        if getattr(obj, name) < 0:
            _fail(obj, name, "must be >= 0")
    for name in positive:
        value = getattr(obj, name)
        if not (math.isfinite(value) and value > 0):
            _fail(obj, name, "must be finite and > 0")
    for name in nonnegative:
        value = getattr(obj, name)
        if not (math.isfinite(value) and value >= 0):
            _fail(obj, name, "must be finite and >= 0")
    for name in fractions:
        if not 0 <= getattr(obj, name) <= 1:
            _fail(obj, name, "must be in [0, 1]")
    for name in below_one:
        if not 0 <= getattr(obj, name) < 1:
            _fail(obj, name, "must be in [0, 1)")
    for name in milestones:
        values = getattr(obj, name)
        if not all(0 < v <= 1 for v in values):
            _fail(obj, name, "must hold fractions of the epochs in (0, 1]")
        if any(a >= b for a, b in zip(values, values[1:], strict=False)):
            _fail(obj, name, "must be increasing")
    for name in radii:
        _radius_bound(obj, name, getattr(obj, name), dataset)
    for name in radius_lists:
        values = getattr(obj, name)
        if not values:
            _fail(obj, name, "must hold at least one radius")
        for value in values:
            _radius_bound(obj, name, value, dataset)
        if any(a >= b for a, b in zip(values, values[1:], strict=False)):
            _fail(obj, name, "must be increasing (each radius once)")
