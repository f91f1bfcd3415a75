r"""Skew-orthogonal convolutions (SOC; Singla and Feizi, ICML 2021).

A convolution whose filter :math:`L` is skew-symmetrised, :math:`L = \tfrac12 (W - W^\top)` with
:math:`W^\top` the filter with in/out channels swapped and the kernel rotated by 180 degrees, has
a skew-symmetric Jacobian :math:`A` (odd kernel, padding ``k//2``, stride 1). Then
:math:`\exp(A)` is orthogonal, and the layer computes its Taylor series

.. math:: S_K(A)\,x = \sum_{j=0}^{K} \frac{A^j x}{j!}

in Horner form. Because :math:`A` is normal with imaginary eigenvalues,
:math:`\|\exp(A) - S_K(A)\|_2 \le \|A\|^{K+1}/(K+1)!`, so

.. math:: \mathrm{Lip}(\mathrm{SOC}) \le 1 + \frac{\|A\|^{K+1}}{(K+1)!},

which :func:`soc_bound` evaluates with a *sound* :math:`\|A\|` (the FFT bound of the convolution
with the normalised filter at the actual input size). Strides use space-to-depth (a permutation);
extra output channels are zero-padded in before the exponential, fewer are sliced out after.

This package is the one door to import; its modules (``_exp``, ``_layer``) are private.
"""

from ._exp import TruncatedExpConv, skew_symmetrize, terms_for_tolerance
from ._layer import SOC, OrthogonalLinear, soc_bound

__all__ = [
    "OrthogonalLinear",
    "SOC",
    "TruncatedExpConv",
    "skew_symmetrize",
    "soc_bound",
    "terms_for_tolerance",
]
