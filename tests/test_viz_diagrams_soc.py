"""The SOC chapter's diagram helpers (lipviz.viz.diagrams) compute and draw what they claim."""

import math

import numpy as np
import pytest
import torch

from lipviz.layers import SOC
from lipviz.viz import diagrams


def test_taylor_modulus_matches_the_closed_forms():
    t = np.linspace(0.0, 4.0, 81)
    closed = {
        1: 1 + t**2,
        2: 1 + t**4 / 4,
        3: 1 - t**4 / 12 + t**6 / 36,
        4: 1 - t**6 / 72 + t**8 / 576,
    }
    for k, squared in closed.items():
        assert np.allclose(diagrams.taylor_modulus(t, k) ** 2, squared, rtol=1e-12)
    # many terms: the exponential itself, |exp(i t)| = 1
    assert np.allclose(diagrams.taylor_modulus(t, 40), 1.0, atol=1e-12)


def test_contraction_limit_is_where_the_modulus_crosses_one():
    assert diagrams.contraction_limit(3) == pytest.approx(math.sqrt(3), rel=1e-12)
    assert diagrams.contraction_limit(4) == pytest.approx(math.sqrt(8), rel=1e-12)
    for k in range(1, 15):
        limit = diagrams.contraction_limit(k)
        contractive = k % 4 in (0, 3)  # the sign of the lowest-order term of |p_K|^2 - 1
        assert (limit > 0) == contractive, k
        if contractive:
            inside = np.linspace(1e-3, limit * (1 - 1e-6), 500)
            assert (diagrams.taylor_modulus(inside, k) <= 1 + 1e-15).all()
            assert diagrams.taylor_modulus(limit * 1.01, k) > 1
        else:
            assert diagrams.taylor_modulus(0.1, k) > 1
    with pytest.raises(ValueError, match="terms"):
        diagrams.contraction_limit(0)


def test_soc_spectrum_singular_values_are_the_moduli_of_the_eigen_angles():
    torch.manual_seed(0)
    layer = SOC(2, 2, 3, multiplier=1.0).double()
    for k in (1, 3, 5):
        theta, sigma = diagrams.soc_spectrum(layer, (2, 4, 4), k)
        assert theta.shape == sigma.shape == (32,)
        assert np.allclose(diagrams.taylor_modulus(theta, k), sigma, atol=1e-12)
        assert np.all(np.diff(sigma) >= 0)
        assert theta.max() <= layer.operator_norm_bound((2, 4, 4)) * (1 + 1e-9)
    assert layer.training and layer.eval_terms == 12  # mode and terms restored
    with pytest.raises(ValueError, match="stride-1"):
        diagrams.soc_spectrum(SOC(2, 2, 3, stride=2), (2, 4, 4), 3)


def test_plot_taylor_moduli_draws_one_curve_per_K_and_the_dots():
    import matplotlib.pyplot as plt

    theta = np.array([0.5, 1.0])
    spectra = {3: (theta, diagrams.taylor_modulus(theta, 3))}
    ax = diagrams.plot_taylor_moduli((1, 3, 5), norm_bound=1.5, spectra=spectra)
    labels = [line.get_label() for line in ax.get_lines()]
    assert [lab for lab in labels if lab.startswith("K = ")] == ["K = 1", "K = 3", "K = 5"]
    dots = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert len(dots) == 1 and np.allclose(dots[0].get_xdata(), theta)
    assert any(np.allclose(line.get_xdata(), 1.5) for line in ax.get_lines())
    plt.close("all")
