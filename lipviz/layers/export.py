"""Export a constrained model to plain torch layers (the constraint lives only in the weights)."""

from __future__ import annotations

import copy

from torch import nn
from torch.nn.utils import parametrize

__all__ = ["to_plain"]


def to_plain(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` with every parametrisation baked into its weights.

    The copy computes the same function (in eval mode) with ordinary ``nn.Linear``/``nn.Conv2d``
    layers, so external verifiers can read it.

    Examples
    --------
    >>> from torch.nn.utils.parametrizations import spectral_norm
    >>> net = nn.Sequential(spectral_norm(nn.Linear(3, 2))).eval()
    >>> type(to_plain(net)[0]).__name__
    'Linear'
    """
    plain = copy.deepcopy(model).eval()
    for module in plain.modules():
        if parametrize.is_parametrized(module):
            for name in list(module.parametrizations.keys()):
                parametrize.remove_parametrizations(module, name, leave_parametrized=True)
    return plain
