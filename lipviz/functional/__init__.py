r"""Pure tensor functions used by the bounds, certificates, attacks and objectives (no modules,
no state).

The certificate vocabulary lives here once: :func:`margins` (the margin
:math:`M_f(x) = f_t(x) - \max_{j \ne t} f_j(x)`), :func:`row_distances`,
:func:`certificate_scales` and :func:`certificate` (the radius
:math:`\min_{j \ne t} (f_t - f_j)/s_{tj}`); :mod:`lipviz.certify`, :mod:`lipviz.attacks`,
:mod:`lipviz.auditing` and the LMT and CR objectives all call them.

The functions live in :mod:`lipviz.functional.spectral` (matrices and operators),
:mod:`lipviz.functional.conv` (convolutions), :mod:`lipviz.functional.ball_box` (a linear
function's maximum over a ball :math:`\cap` box), :mod:`lipviz.functional.certificates`,
:mod:`lipviz.functional.checks` (the input contract of every entry point) and
:mod:`lipviz.functional.skew` (skew-symmetric filters stored as their independent half);
all are importable from here.
"""

from .ball_box import ball_box_dual, ball_box_value
from .certificates import certificate, certificate_scales, margins, row_distances
from .checks import (
    check_box,
    check_count,
    check_eps,
    check_labels,
    check_local_inputs,
    model_dtype,
)
from .conv import (
    conv_norm_fft,
    conv_singular_values_fft,
    conv_total_padding,
    dilate_kernel,
    polyphase_kernel,
    reshaped_kernel_bounds,
)
from .skew import pack_skew, skew_half_size, unpack_skew
from .spectral import operator_power_iteration, power_iteration, spectral_norm_exact

__all__ = [
    "ball_box_dual",
    "ball_box_value",
    "certificate",
    "certificate_scales",
    "check_box",
    "check_count",
    "check_eps",
    "check_labels",
    "check_local_inputs",
    "conv_norm_fft",
    "conv_singular_values_fft",
    "conv_total_padding",
    "dilate_kernel",
    "margins",
    "model_dtype",
    "polyphase_kernel",
    "operator_power_iteration",
    "pack_skew",
    "power_iteration",
    "reshaped_kernel_bounds",
    "row_distances",
    "skew_half_size",
    "spectral_norm_exact",
    "unpack_skew",
]
