r"""Bound propagation: interval bounds (IBP) and linear bounds (CROWN) of a ReLU network's
logits over a ball around each input.

Both methods bound every pre-activation of the network over the input set

.. math:: D = \{x : \|x - x_0\|_p \le \varepsilon\} \cap [\text{low}, \text{high}]^d,
    \qquad p \in \{2, \infty\},

layer after layer, and end with a lower bound of every margin :math:`f_y(x) - f_j(x)` on
:math:`D`; where all of them are positive, no point of :math:`D` changes the class :math:`y`.

**IBP** (interval bound propagation; Gowal et al., 2018; Mirman, Gehr and Vechev, 2018)
carries a box :math:`[l, u]` through the network. The first affine block is bounded exactly
over :math:`D` (for the l2 ball: :math:`w_i^\top x_0 + \max_{d} w_i^\top d`, the ball-box
maximum of :mod:`lipviz.functional.ball_box`, at most :math:`\varepsilon \|w_i\|_2`); after
it, an affine map :math:`z = W a + b` sends the box of centre :math:`c` and radius :math:`r`
to the box of centre :math:`W c + b` and radius :math:`|W| r`, and a ReLU clips both ends.

**CROWN** (Zhang, Weng, Chen, Hsieh and Daniel, NeurIPS 2018) bounds a linear function
:math:`\Lambda z_k` of a layer from below by substituting backwards: through an affine map
:math:`\Lambda (W a + b) = (\Lambda W) a + \Lambda b`, and through a ReLU whose input lies in
:math:`[l, u]` with :math:`l < 0 < u` by its triangle relaxation

.. math:: \alpha z \;\le\; \mathrm{ReLU}(z) \;\le\; \frac{u}{u - l}(z - l),
    \qquad \alpha = \mathbb 1[u \ge -l],

the lower line where the coefficient is positive and the upper one where it is negative
(a stable neuron is exactly linear). At the input the bound is linear in :math:`x`, and its
minimum over :math:`D` is exact (the ball-box dual for :math:`p = 2`, the box's corner for
:math:`p = \infty`). Each layer's bounds come from such a backward pass of its identity rows
and are intersected with IBP's; the last pass starts from the margins' rows
:math:`e_y - e_j`.

Soundness. Every bound is computed in float64 from float64 copies of the weights (exact), and
every rounding error is added outward (:mod:`lipviz.bounds.rounding`): the bounds enclose
the exact real-valued network of the model's parameters. The upper slope :math:`u/(u-l)` is
rounded up, so that the upper line stays above the ReLU.

Supported layers: ``nn.Linear``, ``nn.Conv2d``, ``nn.Flatten``, :class:`lipviz.Normalize`,
``nn.ReLU``, and ``nn.Identity`` / ``nn.Dropout`` (the identity in evaluation), in nested
``nn.Sequential`` chains. Any other module is refused by name.

This package is the one door to import; its modules (``_chain``, ``_interval``, ``_linear``,
``_propagate``) are private.
"""

from ._chain import AffineMap
from ._propagate import METHODS, PropagatedBounds, propagate_bounds

__all__ = ["METHODS", "AffineMap", "PropagatedBounds", "propagate_bounds"]
