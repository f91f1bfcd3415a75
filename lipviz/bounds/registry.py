"""The two registries of the bounds: per-layer bound rules and composition rules.

This module imports nothing else of lipviz, so a layer anywhere in the package registers its
rule beside its definition (``@register_bound(MyLayer)``) without an import cycle.

- A **bound rule** is ``rule(module, in_shape, mode, n_iter) -> LayerBound`` for one module
  type, where ``in_shape`` excludes the batch dimension and ``mode`` is ``"sound"`` (a
  guaranteed upper bound) or ``"estimate"`` (power iteration, an under-estimate).
- A **composition rule** is ``rule(walker, module, x, name, depth) -> (bound, sound, output)``
  for a container whose bound combines its parts' (Sequential, Residual, Concat); it calls
  ``walker.walk(part, x, name, depth)`` for each part, in the order of the forward pass.

Rules are looked up along the module's class hierarchy; a subclass that overrides a method of
the registered type is refused unless it registers a rule of its own (:func:`lookup`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

__all__ = [
    "DEFAULT_N_ITER",
    "MODES",
    "LayerBound",
    "find_composite",
    "find_rule",
    "lookup",
    "register_bound",
    "register_composite",
    "registered_types",
]

MODES = ("sound", "estimate")


@dataclass(frozen=True)
class LayerBound:
    """A per-layer Lipschitz bound: its value, how it was obtained and whether it is sound."""

    value: float
    method: str
    sound: bool


Rule = Callable[[nn.Module, tuple[int, ...], str, int], LayerBound]
DEFAULT_N_ITER = 100
_RULES: dict[type, Rule] = {}


def register_bound(*types: type) -> Callable[[Rule], Rule]:
    """Register a bound rule for one or more module types (decorator)."""

    def decorate(rule: Rule) -> Rule:
        for t in types:
            _RULES[t] = rule
        return rule

    return decorate


def registered_types() -> list[type]:
    """Module types that have a bound rule."""
    return list(_RULES)


# Methods a subclass may redefine without changing what the module computes.
_HARMLESS = frozenset({
    "__init__", "__repr__", "__getstate__", "__setstate__", "__deepcopy__", "__reduce_ex__",
    "extra_repr", "reset_parameters", "lipschitz_bound", "to_plain",
    "_load_from_state_dict", "_save_to_state_dict", "_apply", "train",
})  # fmt: skip


def lookup(registry: dict, module: nn.Module, what: str = "rule"):
    """The rule registered for the nearest class of ``module``'s MRO, or None.

    A subclass of a registered type that redefines a method of that type (``forward``,
    ``_conv_forward``, ...) computes something else than the registered rule assumes, so it is
    refused unless it registers its own rule.
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


def find_rule(module: nn.Module) -> Rule:
    """The bound rule of ``module``; a clear TypeError if it has none (or overrides its type)."""
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


CompositeRule = Callable[..., tuple]
_COMPOSITES: dict[type, CompositeRule] = {}


def register_composite(*types: type) -> Callable[[CompositeRule], CompositeRule]:
    """Register a composition rule ``rule(walker, module, x, name, depth) -> (bound, sound,
    out)`` for container types whose bound combines their parts' bounds (decorator)."""

    def decorate(rule: CompositeRule) -> CompositeRule:
        for t in types:
            _COMPOSITES[t] = rule
        return rule

    return decorate


def find_composite(module: nn.Module) -> CompositeRule | None:
    """The composition rule of ``module``, or None for a leaf (refusing overriding subclasses)."""
    return lookup(_COMPOSITES, module, "composition rule")
