"""What the bound walker refuses: hooks it cannot account for, and weights recomputed by hooks.

A forward hook can change what a module computes, and a forward pre-hook can recompute its
weight (``torch.nn.utils.weight_norm``, the legacy ``torch.nn.utils.spectral_norm``): reading
``module.weight`` then gives the weight *of the last forward pass*, stale if the model was edited
since. lipviz accepts exactly those two weight hooks, recomputing the weight itself
(:func:`current_weight`), and refuses every other hook with an error naming the module.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.modules import module as _module_impl
from torch.nn.utils.spectral_norm import SpectralNorm
from torch.nn.utils.weight_norm import WeightNorm

__all__ = ["check_hooks", "current_weight", "weight_hooks"]

_WEIGHT_HOOKS = (WeightNorm, SpectralNorm)


def weight_hooks(module: nn.Module) -> dict[str, object]:
    """The weight-norm and spectral-norm hooks on ``module``, by the weight name they set.

    Parameters
    ----------
    module : nn.Module

    Returns
    -------
    dict
        Weight name (``"weight"``, ``"bias"``, ...) to the hook that recomputes it.
    """
    return {h.name: h for h in module._forward_pre_hooks.values() if isinstance(h, _WEIGHT_HOOKS)}


def check_hooks(module: nn.Module, name: str) -> None:
    """Raise unless every forward (pre-)hook on ``module`` is one lipviz accounts for.

    Backward hooks do not change forward values and are allowed. Only ``module`` itself is
    checked (not its children), plus torch's global module forward hooks.

    Parameters
    ----------
    module : nn.Module
        The module about to be bounded.
    name : str
        Its path in the model, for the error message (the type name is used when empty).

    Raises
    ------
    TypeError
        If global module forward (pre-)hooks are registered, ``module`` has forward hooks, or
        it has forward pre-hooks other than ``weight_norm`` and the legacy ``spectral_norm``.

    Examples
    --------
    >>> lin = nn.Linear(2, 2)
    >>> check_hooks(lin, "fc")  # no hooks: returns None
    >>> handle = lin.register_forward_hook(lambda m, i, o: 2 * o)
    >>> check_hooks(lin, "fc")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: fc (Linear) has forward hooks, which may change its output; ...
    >>> handle.remove()
    """
    label = name or type(module).__name__
    if _module_impl._global_forward_hooks or _module_impl._global_forward_pre_hooks:
        msg = (
            "global module forward hooks are registered (torch.nn.modules.module."
            "register_module_forward_hook / _pre_hook): they can change what every layer "
            "computes, so no bound is given. Remove them before bounding or certifying."
        )
        raise TypeError(msg)
    if module._forward_hooks:
        msg = (
            f"{label} ({type(module).__name__}) has forward hooks, which may change its output; "
            "the bound would describe the module without them. Remove the hooks (handle.remove()) "
            "or bound a model without them."
        )
        raise TypeError(msg)
    known = weight_hooks(module)
    unknown = [h for h in module._forward_pre_hooks.values() if not isinstance(h, _WEIGHT_HOOKS)]
    if unknown or len(known) != len(module._forward_pre_hooks):
        msg = (
            f"{label} ({type(module).__name__}) has forward pre-hooks lipviz cannot account for "
            f"({[type(h).__name__ for h in unknown]}): they may change its input or weights. "
            "Only weight_norm and the legacy spectral_norm are understood; remove the others or "
            "use torch.nn.utils.parametrize, which lipviz reads exactly."
        )
        raise TypeError(msg)


def current_weight(module: nn.Module, name: str = "weight") -> torch.Tensor:
    """``module.<name>`` as the next forward pass will compute it.

    Parametrisations (``torch.nn.utils.parametrize``) recompute on access already; the
    ``weight_norm`` and legacy ``spectral_norm`` pre-hooks are evaluated here (without a
    power-iteration step), instead of reading the value cached by the last forward pass.

    Parameters
    ----------
    module : nn.Module
        The module holding the weight.
    name : str
        The attribute name of the weight.

    Returns
    -------
    Tensor
        The weight, shape as ``getattr(module, name)`` (e.g. ``(out_features, in_features)``
        or ``(C_out, C_in / groups, k_h, k_w)``), with autograd history in the underlying
        parameters.

    Examples
    --------
    >>> lin = nn.utils.spectral_norm(nn.Linear(2, 2)).eval()  # the legacy pre-hook
    >>> with torch.no_grad():
    ...     _ = lin.weight_orig.add_(1.0)  # edited after the last forward
    >>> torch.allclose(current_weight(lin), lin.weight)
    False
    """
    hook = weight_hooks(module).get(name)
    if isinstance(hook, WeightNorm):
        return hook.compute_weight(module)
    if isinstance(hook, SpectralNorm):
        return hook.compute_weight(module, do_power_iteration=False)
    return getattr(module, name)
