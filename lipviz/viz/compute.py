"""Pure computations behind the figures and explorers: spectra, curves, slider tables and
summaries, as arrays and DataFrames (no plotting).

Everything here is tested numerically; :mod:`~lipviz.viz.static` draws the results with
matplotlib and :mod:`~lipviz.viz.widgets` wires them to sliders.
"""

from __future__ import annotations

from .compute_layers import (
    gradient_norm_decay,
    layer_spectra,
    power_iteration_trace,
    tightness_summary,
)
from .compute_models import (
    accuracy_vs_eps,
    certified_fractions,
    correct_radii,
    lmt_c_profile,
    point_certificate,
)

__all__ = [
    "accuracy_vs_eps",
    "certified_fractions",
    "correct_radii",
    "gradient_norm_decay",
    "layer_spectra",
    "lmt_c_profile",
    "point_certificate",
    "power_iteration_trace",
    "tightness_summary",
]
