"""Frozen dataclass configs with named presets (``SMOKE`` for CPU, ``FULL`` for the real run).

A chapter's ``parameters`` cell holds plain values (``preset = "smoke"`` plus overrides); the next
cell calls :func:`lipviz.resolve` (the experiment's name, then :func:`resolve_config` on its
config class) to turn them into a config. Each experiment's dataclass and presets
live in its own module (:mod:`lipviz.config.margins2d`, :mod:`lipviz.config.lmt`,
:mod:`lipviz.config.soc`, :mod:`lipviz.config.locallip`) and are importable from here.
"""

from __future__ import annotations

import dataclasses
import difflib
import numbers
import typing

from ._checks import DATASET_SHAPES, check
from .lmt import LMTConfig
from .locallip import LocalLipConfig
from .margins2d import Margins2DConfig
from .soc import SOCConfig

__all__ = [
    "DATASET_SHAPES",
    "LMTConfig",
    "LocalLipConfig",
    "Margins2DConfig",
    "SOCConfig",
    "check",
    "preset_names",
    "resolve_config",
]


def preset_names(cls: type) -> list[str]:
    """The presets of a config class, as :func:`resolve_config` and the command line spell them.

    Parameters
    ----------
    cls : type
        A config dataclass with ``SMOKE`` and ``FULL`` presets.

    Returns
    -------
    list of str
        ``"smoke"``, ``"full"``, then any other class-level preset (``FULL_CIFAR10`` is
        ``"full-cifar10"``).

    Examples
    --------
    >>> preset_names(LocalLipConfig)
    ['smoke', 'full', 'full-cifar10']
    """
    extra = sorted(
        k for k, v in vars(cls).items() if isinstance(v, cls) and k not in ("SMOKE", "FULL")
    )
    return ["smoke", "full"] + [k.lower().replace("_", "-") for k in extra]


def _suggest(name: str, known) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known``, or an empty string."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _coerce(cls, name: str, current, value):
    """``value`` as the type of the preset's ``current`` value, or a ValueError naming the field.

    Booleans also accept the strings "true"/"false" (any case; the command line passes text),
    floats accept integers (not booleans), integers accept integral floats, tuples accept
    lists (their numbers converted like the field's); a field whose preset value is None takes
    a value of its declared type.
    """
    if current is None:  # e.g. ``activation: str | None``: the declared type decides
        hint = typing.get_type_hints(cls)[name]
        kinds = [t for t in typing.get_args(hint) if t is not type(None)]
        if len(kinds) == 1:
            current = kinds[0]() if kinds[0] in (str, int, float, bool) else None
        if current is None:
            return value
    bad = f"{cls.__name__}.{name} expects {type(current).__name__}, got {value!r}"
    if isinstance(current, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError(bad)
    if isinstance(value, bool) and not isinstance(current, str):
        raise ValueError(bad)
    if isinstance(current, numbers.Integral):
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real) and float(value).is_integer():
            return int(value)
        raise ValueError(bad)
    if isinstance(current, numbers.Real):
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            return float(value)
        raise ValueError(bad)
    if isinstance(current, tuple):
        if not isinstance(value, (tuple, list)):
            raise ValueError(bad)
        hint = typing.get_type_hints(cls)[name]
        if typing.get_args(hint)[:1] == (float,):  # numbers as floats; the config checks them
            return tuple(
                float(v) if isinstance(v, numbers.Real) and not isinstance(v, bool) else v
                for v in value
            )
        return tuple(value)
    if isinstance(current, str) and not isinstance(value, str):
        raise ValueError(bad)
    return value


def resolve_config(cls: type, preset: str = "smoke", **overrides):
    """The ``preset`` instance of the config class ``cls`` with ``overrides`` applied.

    Most readers want :func:`lipviz.resolve`, which takes the experiment's name and calls this
    with its config class. ``None`` overrides are ignored, so a parameters cell can leave
    values unset.

    Parameters
    ----------
    cls : type
        A frozen config dataclass with ``SMOKE`` and ``FULL`` presets.
    preset : str
        ``"smoke"`` (CPU, the default), ``"full"``, or another class-level preset
        (``"full-cifar10"`` is ``FULL_CIFAR10``); case-insensitive.
    **overrides
        Field values replacing the preset's; ``None`` values are skipped.

    Returns
    -------
    dataclass
        A new frozen config (the presets are not modified).

    Raises
    ------
    ValueError
        For an unknown preset or field name (with the closest known name), a value of the
        wrong type (a boolean field also takes the strings "true" and "false") or out of range
        (the config's own checks).

    Examples
    --------
    >>> resolve_config(LMTConfig, "smoke", epochs=2).epochs
    2
    >>> resolve_config(LMTConfig, "ful")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Unknown preset 'ful' of LMTConfig (did you mean 'full'?); use one of ...
    """
    names = preset_names(cls)
    if not isinstance(preset, str) or preset.lower() not in names:
        hint = _suggest(str(preset).lower(), names)
        msg = f"Unknown preset {preset!r} of {cls.__name__}{hint}; use one of {names} (smoke: CPU)"
        raise ValueError(msg)
    base = getattr(cls, preset.upper().replace("-", "_"))
    fields = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        hint = _suggest(unknown[0], fields) if len(unknown) == 1 else ""
        msg = f"Unknown {cls.__name__} fields {unknown}{hint}. Valid: {sorted(fields)}"
        raise ValueError(msg)
    values = {
        k: _coerce(cls, k, getattr(base, k), v) for k, v in overrides.items() if v is not None
    }
    return dataclasses.replace(base, **values)
