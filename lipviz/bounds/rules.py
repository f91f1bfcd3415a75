"""One Lipschitz-bound rule per module type (l2 norm, for a given input shape).

A rule is ``rule(module, in_shape, mode, n_iter) -> LayerBound`` where ``in_shape`` excludes the
batch dimension, ``mode`` is ``"sound"`` (a guaranteed upper bound) or ``"estimate"`` (power
iteration with ``n_iter`` steps, which under-estimates). Rules are
looked up along the module's class hierarchy; a module with no rule is an error, never a silent 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from ..data.transforms import Normalize
from ..functional import power_iteration, spectral_norm_exact
from .guards import check_hooks, current_weight

__all__ = ["LayerBound", "find_rule", "layer_bound", "lookup", "register_bound", "registered_types"]

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


def layer_bound(
    module: nn.Module, in_shape: tuple[int, ...], mode: str = "sound", n_iter: int = DEFAULT_N_ITER
) -> LayerBound:
    """The Lipschitz bound of one module for inputs of shape ``in_shape`` (no batch dimension).

    Raises
    ------
    TypeError
        If no rule is registered for the module's type, the module's class overrides a
        method of the registered type without registering its own rule, or the module has
        hooks lipviz cannot account for.
    """
    if mode not in MODES:
        msg = f"Unknown bound mode {mode!r}; use one of {MODES}"
        raise ValueError(msg)
    check_hooks(module, type(module).__name__)
    return find_rule(module)(module, tuple(in_shape), mode, n_iter)


# --- rules ------------------------------------------------------------------------------------


@register_bound(nn.Linear)
def _linear(module: nn.Linear, in_shape, mode, n_iter) -> LayerBound:
    if in_shape[-1] != module.in_features:
        msg = f"{module!r} got inputs of shape {in_shape}, last dim must be {module.in_features}"
        raise ValueError(msg)
    weight = current_weight(module)
    if mode == "sound":
        return LayerBound(float(spectral_norm_exact(weight)), "exact SVD", True)
    sigma, _ = power_iteration(weight.double(), n_iter=n_iter)
    return LayerBound(float(sigma), f"power iteration ({n_iter} steps)", False)


@register_bound(
    nn.ReLU, nn.Tanh, nn.Identity, nn.Dropout, nn.Dropout2d, nn.Flatten, nn.Unflatten, nn.ZeroPad2d
)
def _one(module, in_shape, mode, n_iter) -> LayerBound:
    return LayerBound(1.0, "1 (analytic)", True)


@register_bound(nn.Hardtanh, nn.Softplus)
def _slope_one(module, in_shape, mode, n_iter) -> LayerBound:
    return LayerBound(1.0, "1 (slopes in [0, 1])", True)


@register_bound(nn.ELU)
def _elu(module: nn.ELU, in_shape, mode, n_iter) -> LayerBound:
    return LayerBound(max(1.0, abs(module.alpha)), "max(1, |alpha|)", True)


@register_bound(nn.LeakyReLU)
def _leaky(module: nn.LeakyReLU, in_shape, mode, n_iter) -> LayerBound:
    return LayerBound(max(1.0, abs(module.negative_slope)), "max(1, |slope|)", True)


@register_bound(nn.Sigmoid)
def _sigmoid(module, in_shape, mode, n_iter) -> LayerBound:
    return LayerBound(0.25, "1/4 (max of sigmoid')", True)


@register_bound(Normalize)
def _normalize(module: Normalize, in_shape, mode, n_iter) -> LayerBound:
    return LayerBound(1.0 / float(module.std.double().abs().min()), "1/min(std)", True)
