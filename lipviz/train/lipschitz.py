r"""A differentiable Lipschitz estimate for training, with persistent power-iteration vectors.

The model is walked by the same walker as the sound bound (:func:`lipviz.bounds.walk`), in
``differentiable`` mode: for each linear operator call (Linear, Conv2d, a Conv2d+BatchNorm2d
fusion) a unit vector ``u`` of the operator's true input shape is kept as a buffer, and the rule
returns :math:`\sigma = \|A u\|`, differentiable in the weights. In training mode only, ``u``
advances by one power-iteration step (:math:`u \leftarrow A^\top A u / \|A^\top A u\|`): one
free step per SGD step, as in LMT (Tsuzuku, Sato and Sugiyama, NeurIPS 2018). Other layers
contribute their sound bound (BatchNorm its differentiable slope). It is an **estimate** (it
under-estimates): training uses it; certificates never do.
"""

from __future__ import annotations

import torch
from torch import nn

from ..bounds import BoundContext, walk
from ..state import eval_mode

__all__ = ["PowerIterationBound"]


class PowerIterationBound(nn.Module):
    r"""Differentiable Lipschitz estimate of ``model`` for inputs of ``input_shape``.

    Calling it returns ``(total, per_layer)``: ``total`` composes the per-call estimates as the
    sound bound does (products along sequences, sums over residual parts, root of sums of
    squares over concatenations), ``per_layer`` lists the linear operators' :math:`\sigma`
    (for spectral-norm regularisation). :meth:`prefix` is the estimate without the last layer
    (for the pairwise LMT form).

    For each linear operator call :math:`A` the estimate is :math:`\sigma = \|A u\|_2` with a
    persistent unit vector :math:`u`; in training mode every evaluation is followed by one
    power-iteration step :math:`u \leftarrow A^\top A u / \|A^\top A u\|_2`, as in LMT
    (Tsuzuku, Sato and Sugiyama, NeurIPS 2018). Since :math:`\|A u\| \le \|A\|_2` for a unit
    :math:`u`, each :math:`\sigma` under-estimates the operator norm: this is no certificate.

    Parameters
    ----------
    model : nn.Module
        Any model the sound walker accepts (Sequential, Residual, Concat, registered layers).
        It is not a submodule: its parameters stay the model's.
    input_shape : tuple of int
        The input shape without the batch dimension (convolution norms depend on it).

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    >>> lip = PowerIterationBound(net, (3,)).eval()
    >>> total, sigmas = lip()
    >>> len(sigmas), bool(total > 0), total.requires_grad
    (2, True, True)
    """

    def __init__(self, model: nn.Module, input_shape):
        super().__init__()
        self.model = [model]  # not a submodule: its parameters stay the model's
        self.input_shape = tuple(int(s) for s in input_shape)
        self._gen = torch.Generator().manual_seed(0)
        self._sigmas: list[torch.Tensor] = []
        self._creating = True
        try:
            with torch.no_grad():
                self._walk(model)  # creates the vectors, in the order of the forward pass
        finally:
            self._creating = False

    # --- the store of persistent vectors (called by the rules) ----------------------------------

    def sigma(self, ctx: BoundContext, op) -> torch.Tensor:
        r""":math:`\|A u\|` for the linear map ``op`` of the call ``ctx`` (creating its ``u`` on
        first use); in training mode ``u`` then takes one power-iteration step.

        Called by the bound rules of the walker in ``differentiable`` mode.

        Parameters
        ----------
        ctx : BoundContext
            The call: its ``name`` keys the buffer ``u`` (shape ``(1, *ctx.in_shape)``).
        op : callable
            The linear map :math:`A`, from tensors of shape ``(1, *ctx.in_shape)`` to outputs.

        Returns
        -------
        Tensor
            0-dim, :math:`\|A u\|_2` with ``u`` before the step, differentiable in the weights
            used by ``op``.
        """
        key = "u_" + ctx.name.replace(".", "_").replace("+", "__")
        if not hasattr(self, key):
            u = torch.randn((1, *ctx.in_shape), generator=self._gen).to(self._probe)
            self.register_buffer(key, u / u.norm())
        u = getattr(self, key)
        sigma = op(u.clone()).norm()  # the clone keeps autograd's copy safe from the update
        if self.training and not self._creating:
            with torch.enable_grad():
                v = u.detach().requires_grad_(True)
                out = op(v)
                (g,) = torch.autograd.grad(out, v, grad_outputs=out.detach())
            with torch.no_grad():
                u.copy_(g / g.norm().clamp_min(1e-12))
        self._sigmas.append(sigma)
        return sigma

    # --- walking ------------------------------------------------------------------------------

    def _walk(self, model: nn.Module):
        ref = next((p for p in model.parameters() if p.is_floating_point()), None)
        device = ref.device if ref is not None else torch.device("cpu")
        dtype = ref.dtype if ref is not None else torch.float32
        self._probe = torch.zeros((1, *self.input_shape), device=device, dtype=dtype)
        self._sigmas = []
        ctx = BoundContext(self.input_shape, "differentiable", vectors=self)
        with eval_mode(model):  # BN uses its running statistics, untouched
            _, (total, _, _) = walk(model, self._probe, ctx)
        value = total if isinstance(total, torch.Tensor) else torch.tensor(total)
        sigmas, self._sigmas = self._sigmas, []
        return value, sigmas

    def forward(self):
        """``(total, per_layer)``: the composed estimate and the linear operators' sigmas.

        Returns
        -------
        total : Tensor
            0-dim, the estimate of the whole model's Lipschitz constant.
        per_layer : list of Tensor
            The 0-dim sigma of each linear operator call, in forward order.
        """
        return self._walk(self.model[0])

    def prefix(self) -> torch.Tensor:
        """The estimate without the last layer (which must be an ``nn.Linear``).

        Returns
        -------
        Tensor
            0-dim, the estimate for ``model[:-1]``; in training mode the vectors of those layers
            advance too.

        Raises
        ------
        ValueError
            If the model is not an ``nn.Sequential`` ending in ``nn.Linear``.
        """
        model = self.model[0]
        if not isinstance(model, nn.Sequential) or not isinstance(model[-1], nn.Linear):
            msg = "the pairwise form needs an nn.Sequential model whose last layer is nn.Linear"
            raise ValueError(msg)
        total, _ = self._walk(model[:-1])
        return total
