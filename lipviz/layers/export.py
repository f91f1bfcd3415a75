"""Export a constrained model to plain modules: fixed weights, no constraint machinery.

Each lipviz layer exports itself (its ``to_plain`` method, beside its class): an SOC becomes a
:class:`~lipviz.layers.soc.TruncatedExpConv` with its filter fixed, an orthogonal last layer
or an LLN becomes an ``nn.Linear``, and layers that are already plain (activations, Normalize)
return themselves. torch's own layers lose their parametrisations
(``torch.nn.utils.parametrize``) and their weight pre-hooks (``weight_norm``, the legacy
``spectral_norm``), with the weights they would compute baked in. A module that is neither a
torch layer nor exportable is refused.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize

from ..bounds.guards import current_weight, weight_hooks

__all__ = ["to_plain"]

_CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)


def _is_torch_layer(module: nn.Module) -> bool:
    return type(module).__module__.startswith("torch.nn.")


def _bake_weight_hooks(module: nn.Module) -> None:
    """Replace weight_norm / legacy spectral_norm pre-hooks by the weights they compute."""
    hooks = weight_hooks(module)
    with torch.no_grad():  # every hooked tensor's value, each computed before any is removed
        baked = {name: current_weight(module, name).detach().clone() for name in hooks}
    for key, hook in list(module._forward_pre_hooks.items()):
        if hook in hooks.values():
            del module._forward_pre_hooks[key]
    for name in hooks:
        for suffix in ("_g", "_v", "_orig", "_u", "_v"):
            if name + suffix in module._parameters:
                del module._parameters[name + suffix]
            if name + suffix in module._buffers:
                del module._buffers[name + suffix]
        if hasattr(module, name):
            delattr(module, name)
        module.register_parameter(name, nn.Parameter(baked[name]))


def _own_parametrized_class(module: nn.Module) -> None:
    """Give a deep-copied parametrised module its own class object.

    ``parametrize`` keeps the parametrised properties on a class created for the module, which a
    deep copy shares with the original; ``remove_parametrizations`` deletes them from that class,
    so removing them from the copy would break the original model.
    """
    cls = type(module)
    body = {k: v for k, v in vars(cls).items() if k not in ("__dict__", "__weakref__")}
    module.__class__ = type(cls.__name__, cls.__bases__, body)


def _export(module: nn.Module, name: str) -> nn.Module:
    if parametrize.is_parametrized(module):
        _own_parametrized_class(module)
        containers: Any = module.parametrizations  # a ModuleDict, by parametrised tensor
        for tensor in list(containers.keys()):
            parametrize.remove_parametrizations(module, tensor, leave_parametrized=True)
    _bake_weight_hooks(module)
    if module._forward_hooks or module._forward_pre_hooks:
        msg = (
            f"{name or type(module).__name__}: forward hooks change what the module computes; "
            "remove them before exporting"
        )
        raise TypeError(msg)
    exporter = getattr(type(module), "to_plain", None)
    if exporter is not None:
        out = exporter(module)
        if out is not module:
            return _export(out, name)
    elif not _is_torch_layer(module):
        msg = (
            f"{name or 'the model'} ({type(module).__name__}) has no plain export: give its class "
            "a to_plain() method returning an equivalent module without constraint machinery"
        )
        raise TypeError(msg)
    for child_name, child in list(module._modules.items()):
        if child is not None:
            full = f"{name}.{child_name}" if name else child_name
            module._modules[child_name] = _export(child, full)
    return module


def _deepcopy(model: nn.Module) -> nn.Module:
    """``copy.deepcopy``, also for ``weight_norm`` modules, whose cached weight (a non-leaf
    tensor, recomputed by the hook) cannot be deep-copied: it is left out of the copy."""
    stash = []
    for module in model.modules():
        for name in weight_hooks(module):
            value = module.__dict__.get(name)
            if isinstance(value, torch.Tensor) and value.grad_fn is not None:
                stash.append((module, name, module.__dict__.pop(name)))
    try:
        return copy.deepcopy(model)
    finally:
        for module, name, value in stash:
            module.__dict__[name] = value


def to_plain(model: nn.Module) -> nn.Module:
    """A copy of ``model`` (in eval mode) made of plain modules with fixed weights.

    The copy computes the same function as the model in eval mode, and lipviz's sound bound of
    it is the model's (an orthogonal last layer becomes an ``nn.Linear`` bounded by the exact
    norm of its float matrix, which can differ from the SOC bound by float rounding).
    External verifiers can read it.

    Parameters
    ----------
    model : nn.Module
        Any model of lipviz and torch layers.

    Returns
    -------
    nn.Module
        The exported copy; ``model`` is not modified.

    Raises
    ------
    TypeError
        For a module that is neither a torch layer nor has a ``to_plain`` method, or has
        forward hooks.

    Examples
    --------
    >>> from torch.nn.utils.parametrizations import spectral_norm
    >>> net = nn.Sequential(spectral_norm(nn.Linear(3, 2))).eval()
    >>> type(to_plain(net)[0]).__name__
    'Linear'
    """
    plain = _export(_deepcopy(model).eval(), "")
    plain.eval()
    for p in plain.parameters():
        p.requires_grad_(False)
    return plain
