"""The book's explanatory diagrams, each with the small computation behind it: margins and
their cones (:func:`plot_margin_cone`), padded convolutions and polyphase components
(:func:`plot_padded_grid`, :func:`plot_polyphase`), SOC's Taylor moduli
(:func:`plot_taylor_moduli`), LLN's certified balls and Householder pairs
(:func:`plot_certified_balls`, :func:`plot_householder_pair`), local bounds' enclosures
(:func:`plot_enclosures`), the ReLU's triangle relaxation (:func:`plot_relu_relaxation`), a
model's chain of layers (:func:`plot_architecture`), LMT's shifted logits
(:func:`plot_lmt_shift`) and certificate regularisation's gradient
(:func:`plot_certificate_gradient`).

This package is the one door to import; its modules (``_convolution``, ``_lln``, ``_local``,
``_margins``, ``_propagation``, ``_soc``, ``_training``) are private.
"""

from ._convolution import padded_grid_reads, plot_padded_grid, plot_polyphase, polyphase_components
from ._lln import (
    decision_regions,
    householder_pair,
    lln_pair_distances,
    plot_certified_balls,
    plot_householder_pair,
    plot_lln_rows,
)
from ._local import contrasting_example, plot_enclosures
from ._margins import largest_gap_slope, margin_along_ray, margin_lower_bound, plot_margin_cone
from ._propagation import plot_relu_relaxation, relu_relaxation
from ._soc import contraction_limit, plot_taylor_moduli, soc_spectrum, taylor_modulus
from ._training import (
    certificate_gradient,
    layer_shapes,
    lmt_shifted_logits,
    plot_architecture,
    plot_certificate_gradient,
    plot_lmt_shift,
)

__all__ = [
    "certificate_gradient",
    "layer_shapes",
    "lmt_shifted_logits",
    "plot_architecture",
    "plot_certificate_gradient",
    "plot_lmt_shift",
    "contraction_limit",
    "contrasting_example",
    "decision_regions",
    "householder_pair",
    "lln_pair_distances",
    "largest_gap_slope",
    "margin_along_ray",
    "margin_lower_bound",
    "padded_grid_reads",
    "plot_certified_balls",
    "plot_enclosures",
    "plot_householder_pair",
    "plot_lln_rows",
    "plot_margin_cone",
    "plot_padded_grid",
    "plot_polyphase",
    "plot_relu_relaxation",
    "plot_taylor_moduli",
    "polyphase_components",
    "relu_relaxation",
    "soc_spectrum",
    "taylor_modulus",
]
