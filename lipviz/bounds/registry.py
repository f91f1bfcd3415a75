"""The registries of the bounds: per-layer bound rules, fusion rules and composition rules.

This module imports nothing else of lipviz, so a layer anywhere in the package registers its
rule beside its definition (``@register_bound(MyLayer)``) without an import cycle. There is one
registration API, the decorator :func:`register_bound`, for the five kinds of rule (their call
signatures are the protocols of :mod:`lipviz.bounds.context`):

- A **bound rule**, ``@register_bound(T)``, is ``rule(module, ctx) -> LayerBound`` for one module
  type (:class:`~lipviz.bounds.context.BoundRule`); ``ctx`` is a :class:`BoundContext` (the
  input shape without the batch dimension, the mode, the iteration count, the call's name, and
  room for what local bounds need).
- A **local rule**, ``@register_bound(T, kind="local")``, has the same signature and bounds the
  layer on balls around inputs (:mod:`lipviz.bounds.local`).
- A **propagation rule**, ``@register_bound(T, kind="propagation")``, is ``rule(module, ctx)
  -> AffineMap`` for an affine module type: the module as an operator that bound propagation
  (:mod:`lipviz.bounds.propagation`, IBP and CROWN) pushes boxes through and substitutes
  backwards through.
- A **fusion rule**, ``@register_bound(A, B, kind="fusion")``, bounds two consecutive modules of
  a ``Sequential`` as one map, ``rule((a, b), ctx) -> LayerBound`` (a Conv2d and its
  BatchNorm2d; :class:`~lipviz.bounds.context.FusionRule`).
- A **composition rule**, ``@register_bound(T, kind="composite")``, is
  ``rule(walker, module, x, ctx) -> (bound, sound, output)`` for a container whose bound combines
  its parts' (Sequential, Residual, Concat; :class:`~lipviz.bounds.context.CompositeRule`); it
  calls ``walker.walk(part, x, ctx.part(name))`` for each part, in the order of the forward
  pass.

Rules are looked up along the module's class hierarchy; a subclass that overrides a method of
the registered type is refused unless it registers a rule of its own (:func:`lookup`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping

from torch import nn

from .context import BoundRule, CompositeRule, FusionRule

__all__ = [
    "find_composite",
    "find_fusion",
    "find_local_rule",
    "find_propagation_rule",
    "find_rule",
    "lookup",
    "register_bound",
    "registered_types",
]

_RULES: dict[type, BoundRule] = {}
_LOCAL_RULES: dict[type, BoundRule] = {}
_PROPAGATION_RULES: dict[type, Callable] = {}
_FUSIONS: dict[type, dict[type, FusionRule]] = {}
_COMPOSITES: dict[type, CompositeRule] = {}

KINDS = ("plain", "local", "propagation", "fusion", "composite")
"""The kinds of rule :func:`register_bound` registers."""


def register_bound(*types: type, kind: str = "plain") -> Callable:
    """Register a rule of ``kind`` for module types (decorator): the one registration API.

    A later registration for the same type (or pair) replaces the earlier one. Subclasses of a
    registered type use its rule unless they override its methods (:func:`lookup`).

    Parameters
    ----------
    *types : type
        The module classes the rule bounds; for ``kind="fusion"`` exactly two, the first module
        and the one that directly follows it in a ``Sequential``.
    kind : {"plain", "local", "propagation", "fusion", "composite"}
        ``"plain"``: ``rule(module, ctx) -> LayerBound``, the global bound of one layer.
        ``"local"``: the same signature, the bound on balls around inputs (for
        ``ctx.mode == "local"``, :mod:`lipviz.bounds.local`); a type without a local rule is
        refused by local bounds. ``"fusion"``: ``rule((first, second), ctx) -> LayerBound``,
        ``second(first(x))`` bounded as one map, tighter than the product of the two bounds
        (``ctx.in_shape`` is the input shape of ``first``). ``"composite"``:
        ``rule(walker, module, x, ctx) -> (bound, sound, output)`` for a container whose bound
        combines its parts': ``x`` is the container's input batch ``(N, *in_shape)``; the rule
        walks each part with ``walker.walk(part, x_part, ctx.part(name))`` and returns the
        combined bound, whether every part was sound, and the container's output.

    Returns
    -------
    callable
        The decorator; it registers ``rule`` and returns it unchanged.

    Raises
    ------
    ValueError
        For an unknown kind, no type, or a fusion of other than two types.
    TypeError
        At registration, if ``rule`` cannot be called with the kind's positional arguments
        (two; four for a composition rule).

    Examples
    --------
    >>> from lipviz.bounds import BoundContext, LayerBound
    >>> class Double(nn.Module):
    ...     def forward(self, x):
    ...         return 2 * x
    >>> @register_bound(Double)
    ... def _double(module, ctx):
    ...     return LayerBound(2.0, "2 (analytic)", True)
    >>> find_rule(Double())(Double(), BoundContext((3,))).value
    2.0
    >>> del _RULES[Double]  # (keep the doctest from leaving a rule behind)
    """

    if kind not in KINDS:
        msg = f"kind must be one of {KINDS}, got {kind!r}"
        raise ValueError(msg)
    if not types or (kind == "fusion" and len(types) != 2):
        msg = f"register_bound(kind={kind!r}) takes {'two types' if kind == 'fusion' else 'types'}"
        raise ValueError(msg)

    def decorate(rule):
        if kind == "composite":
            _check_arity(rule, 4, "rule(walker, module, x, ctx)")
            _COMPOSITES.update(dict.fromkeys(types, rule))
        elif kind == "fusion":
            _check_arity(rule, 2, "rule((first, second), ctx)")
            _FUSIONS.setdefault(types[0], {})[types[1]] = rule
        else:
            _check_arity(rule, 2, "rule(module, ctx)")
            registry = {"local": _LOCAL_RULES, "propagation": _PROPAGATION_RULES}.get(kind, _RULES)
            registry.update(dict.fromkeys(types, rule))
        return rule

    return decorate


def _check_arity(rule: Callable, n: int, form: str) -> None:
    """Refuse, at registration, a rule that cannot be called as ``form``."""
    try:
        inspect.signature(rule).bind(*([None] * n))
    except TypeError as err:
        msg = (
            f"{getattr(rule, '__name__', rule)!r} must be callable as {form}; the context "
            "object carries the input shape, mode and iteration count (ctx.in_shape, ctx.mode, "
            "ctx.n_iter)"
        )
        raise TypeError(msg) from err
    except ValueError:  # no signature to read (a builtin): accept
        pass


def registered_types(kind: str = "plain") -> list[type]:
    """Module types that have a rule of ``kind``.

    Parameters
    ----------
    kind : {"plain", "local", "propagation"}

    Returns
    -------
    list of type
        The types registered with :func:`register_bound`, in registration order.
    """
    registries = {"plain": _RULES, "local": _LOCAL_RULES, "propagation": _PROPAGATION_RULES}
    if kind not in registries:
        msg = f"kind must be one of {tuple(registries)}, got {kind!r}"
        raise ValueError(msg)
    return list(registries[kind])


# Methods a subclass may redefine without changing what the module computes.
_HARMLESS = frozenset(
    {
        "__init__",
        "__repr__",
        "__getstate__",
        "__setstate__",
        "__deepcopy__",
        "__reduce_ex__",
        "extra_repr",
        "reset_parameters",
        "lipschitz_bound",
        "to_plain",
        "_load_from_state_dict",
        "_save_to_state_dict",
        "_apply",
        "train",
    }
)


def lookup(registry: Mapping, module: nn.Module, what: str = "rule"):
    """The rule registered for the nearest class of ``module``'s MRO, or None.

    A subclass of a registered type that redefines a method of that type (``forward``,
    ``_conv_forward``, ...) computes something else than the registered rule assumes, so it is
    refused (``TypeError``) unless it registers its own rule. Methods that do not change what
    the module computes (``__init__``, ``extra_repr``, ``reset_parameters``, ``train``, ...)
    may be redefined.

    Parameters
    ----------
    registry : Mapping
        Module type to rule (the bound, fusion or composition registry).
    module : nn.Module
        The module to look up.
    what : str
        What is looked up, for the error message (e.g. ``"bound rule"``).

    Returns
    -------
    callable or None
        The rule of the nearest registered class, or None if no class of the MRO is registered.

    Raises
    ------
    TypeError
        If a class between ``type(module)`` and the registered class overrides a method of the
        registered class.

    Examples
    --------
    >>> class Sneaky(nn.ReLU):
    ...     def forward(self, x):
    ...         return 2 * x
    >>> lookup({nn.ReLU: "relu rule"}, nn.ReLU())
    'relu rule'
    >>> lookup({nn.ReLU: "relu rule"}, Sneaky())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: Sneaky subclasses ReLU and overrides 'forward', ...
    >>> lookup({}, nn.ReLU()) is None
    True
    """
    mro = type(module).__mro__
    for i, cls in enumerate(mro):
        if cls in registry:
            for sub in mro[:i]:
                for attr, value in vars(sub).items():
                    if attr in _HARMLESS or not callable(value) or not hasattr(cls, attr):
                        continue
                    msg = (
                        f"{type(module).__name__} subclasses {cls.__name__} and overrides "
                        f"{attr!r}, so the {what} registered for {cls.__name__} may not describe "
                        f"it. Register one for {type(module).__name__} (lipviz.register_bound) "
                        "or use the base class."
                    )
                    raise TypeError(msg)
            return registry[cls]
    return None


def find_rule(module: nn.Module) -> BoundRule:
    """The bound rule of ``module``; a clear TypeError if it has none (or overrides its type).

    Parameters
    ----------
    module : nn.Module
        The module to bound.

    Returns
    -------
    callable
        ``rule(module, ctx) -> LayerBound``, registered with :func:`register_bound`.

    Raises
    ------
    TypeError
        If no class of the module's MRO has a rule (lipviz never assumes 1), or the module's
        class overrides a method of the registered type (:func:`lookup`).
    """
    rule = lookup(_RULES, module, "bound rule")
    if rule is None:
        msg = (
            f"No Lipschitz bound rule for module {type(module).__name__} ({module!r}). "
            "lipviz never assumes 1 for an unknown layer: register a rule with "
            "lipviz.bounds.register_bound. Known types: "
            + ", ".join(sorted(t.__name__ for t in _RULES))
        )
        raise TypeError(msg)
    return rule


def find_local_rule(module: nn.Module) -> BoundRule:
    """The local bound rule of ``module`` (:mod:`lipviz.bounds.local`).

    Parameters
    ----------
    module : nn.Module
        A module met by a local walk.

    Returns
    -------
    callable
        ``rule(module, ctx) -> LayerBound`` with per-input values of shape ``(N,)``.

    Raises
    ------
    TypeError
        If the module's type has no local rule: local bounds never fall back to a global one
        silently (the boxes and masks would not be propagated).
    """
    rule = lookup(_LOCAL_RULES, module, "local bound rule")
    if rule is None:
        msg = (
            f"No local bound rule for {type(module).__name__} ({module!r}): local Lipschitz "
            "bounds support "
            + ", ".join(sorted(t.__name__ for t in _LOCAL_RULES))
            + ". Use the global bound (lipviz.lipschitz_bound) for this model."
        )
        raise TypeError(msg)
    return rule


def find_propagation_rule(module: nn.Module) -> Callable | None:
    """The propagation rule of an affine ``module`` (:mod:`lipviz.bounds.propagation`), or
    None if its type has none.

    Parameters
    ----------
    module : nn.Module

    Returns
    -------
    callable or None
        ``rule(module, ctx) -> AffineMap``.

    Raises
    ------
    TypeError
        For a subclass that overrides what its registered type computes (:func:`lookup`).
    """
    return lookup(_PROPAGATION_RULES, module, "propagation rule")


def find_fusion(first: nn.Module, second: nn.Module | None) -> FusionRule | None:
    """The fusion rule for the pair ``(first, second)``, or None.

    Subclasses that override a registered type's methods get no fusion (None, not an error):
    their own bound rules then decide, and :func:`find_rule` refuses them as usual.

    Parameters
    ----------
    first : nn.Module
        A module of a ``Sequential``.
    second : nn.Module or None
        The module after it; None when ``first`` is the last one.

    Returns
    -------
    callable or None
        ``rule((first, second), ctx) -> LayerBound``, or None.
    """
    if second is None:
        return None
    try:
        inner = lookup(_FUSIONS, first, "fusion rule")
        return lookup(inner, second, "fusion rule") if inner is not None else None
    except TypeError:  # an overriding subclass: no fusion; its own bound rule decides
        return None


def find_composite(module: nn.Module) -> CompositeRule | None:
    """The composition rule of ``module``, or None for a leaf (refusing overriding subclasses).

    Parameters
    ----------
    module : nn.Module
        The module being walked.

    Returns
    -------
    callable or None
        ``rule(walker, module, x, ctx) -> (bound, sound, output)``, or None when the module's
        type has no composition rule.

    Raises
    ------
    TypeError
        If the module's class overrides a method of the registered container type.
    """
    return lookup(_COMPOSITES, module, "composition rule")
