"""Pure computations behind the figures and explorers: spectra, curves, slider tables and
summaries, as arrays and DataFrames (no plotting).

Everything here is tested numerically; :mod:`~lipviz.viz.static` draws the results with
matplotlib and :mod:`~lipviz.viz.widgets` wires them to sliders.

This package is the one door to import; its modules (``_layers``, ``_local``, ``_models``) are
private.
"""

from ._layers import gradient_norm_decay, layer_spectra, power_iteration_trace, tightness_summary
from ._local import (
    box_and_ball,
    factor_gap,
    first_layer_status,
    local_profile,
    local_vs_global_radii,
)
from ._models import (
    accuracy_vs_eps,
    certified_fractions,
    correct_radii,
    lmt_c_profile,
    point_certificate,
)

__all__ = [
    "accuracy_vs_eps",
    "box_and_ball",
    "certified_fractions",
    "correct_radii",
    "first_layer_status",
    "gradient_norm_decay",
    "layer_spectra",
    "lmt_c_profile",
    "factor_gap",
    "local_profile",
    "local_vs_global_radii",
    "point_certificate",
    "power_iteration_trace",
    "tightness_summary",
]
