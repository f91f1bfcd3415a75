r"""Local Lipschitz bounds on balls around inputs (Local-Lip; Huang, Zhang, Shi, Kolter and
Anandkumar, NeurIPS 2021), walked by the one walker in ``local`` mode.

For each input :math:`x_n` and radius :math:`\varepsilon_n`, the walk propagates the centre, an
interval box (IBP) and an l2 ball through the network, intersecting after every affine layer the
box with the ball's box (box-constrained propagation, BCP; Lee et al., NeurIPS 2020). An
activation whose pre-activation box keeps it on one flat piece (a dead ReLU, a clipped neuron at
its threshold) is *fixed* on the whole ball. With :math:`D` the 0/1 masks of the neurons that
may vary, the Jacobian of the network at any point of the ball is
:math:`W_L \Lambda_{L-1} W_{L-1} \cdots` with :math:`\Lambda_i = \mathrm{diag}(d_i)` and
:math:`d_i \le D_i` (ReLU-type activations), so

.. math:: \mathrm{Lip}(f|_{B(x, \varepsilon)}) \le \|W_L D_{L-1}\|_2
    \prod_i \|D_i W_i D_{i-1}\|_2 ,

each factor being at most the layer's global norm. In ``sound`` mode every factor is a
guaranteed upper bound (exact masked SVDs of dense layers; for a convolution, the smaller of
the FFT bound restricted to the channels the masks leave active and the exact norm of the
finite convolution on the channels active anywhere in the batch); in ``estimate`` mode it is
power iteration
on the masked operator, as the paper does (a *lower* estimate). The factors are computed in
``_norms``.

Layers take part through local rules (``register_bound(T, kind="local")``) that read and update
the :class:`LocalState` carried by the rule context (``ctx.extras["local"]``).

This package is the one door to import; its modules (``_kernels``, ``_norms``, ``_state``,
``_walk``) are private.
"""

from ._kernels import (
    at_least,
    at_most,
    centre_halfwidth,
    clip_box,
    clip_relu,
    meet_box,
    pair_max_min,
    records_grad,
)
from ._norms import masked_norms
from ._state import FOLDED, LocalState, param, state_of
from ._walk import (
    LocalBound,
    affine_local,
    close_pending,
    fan_in,
    local_bound_of,
    local_lipschitz_bound,
    local_walk,
    rounding_terms,
)

__all__ = [
    "FOLDED",
    "LocalBound",
    "LocalState",
    "affine_local",
    "at_least",
    "at_most",
    "centre_halfwidth",
    "clip_box",
    "clip_relu",
    "close_pending",
    "fan_in",
    "local_bound_of",
    "local_lipschitz_bound",
    "local_walk",
    "masked_norms",
    "meet_box",
    "pair_max_min",
    "param",
    "records_grad",
    "rounding_terms",
    "state_of",
]
