"""matplotlib figures for the built book (each takes an optional ``ax`` and returns it).

Figures of bounds, layers and points (``_bounds``); of datasets, trained models and runs
(``_results``); of local bounds (``_local``); of results against the papers
(``_reproduction``, ``_landscape``).

This package is the one door to import; its modules (``_bounds``, ``_landscape``, ``_local``,
``_reproduction``, ``_results``) are private.
"""

from ._bounds import (
    plot_estimators,
    plot_lmt_profile,
    plot_looseness,
    plot_margins2d,
    plot_point_certificate,
    plot_power_iteration,
    plot_soc_terms,
    plot_tightness,
)
from ._landscape import plot_landscape, plot_mnist_ladder
from ._local import plot_box_and_ball, plot_input_ball, plot_local_profile, plot_local_vs_global
from ._reproduction import plot_reproduction
from ._results import (
    plot_accuracy_vs_eps,
    plot_certified_accuracy,
    plot_history,
    plot_image_grid,
    plot_radius_histograms,
    plot_spectra,
    plot_training,
)

__all__ = [
    "plot_accuracy_vs_eps",
    "plot_box_and_ball",
    "plot_certified_accuracy",
    "plot_estimators",
    "plot_history",
    "plot_image_grid",
    "plot_input_ball",
    "plot_landscape",
    "plot_lmt_profile",
    "plot_local_profile",
    "plot_local_vs_global",
    "plot_looseness",
    "plot_margins2d",
    "plot_mnist_ladder",
    "plot_point_certificate",
    "plot_power_iteration",
    "plot_radius_histograms",
    "plot_reproduction",
    "plot_soc_terms",
    "plot_spectra",
    "plot_tightness",
    "plot_training",
]
