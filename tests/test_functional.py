"""The functional floor (lipviz.functional): pure tensor functions with known answers.

Certificates and margins on hand-computed cases, the spectral estimators against the exact SVD
(power iteration from below, never above), the FFT convolution bound against the exact norm of
the convolution's matrix, and the input checks every entry point shares."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from lipviz.functional import (
    certificate,
    certificate_scales,
    check_box,
    check_count,
    check_eps,
    check_labels,
    check_local_inputs,
    conv_norm_fft,
    margins,
    model_dtype,
    operator_power_iteration,
    power_iteration,
    row_distances,
    spectral_norm_exact,
)

# --- certificates -------------------------------------------------------------------------------


def test_margins_of_the_prediction_and_of_a_given_label():
    logits = torch.tensor([[2.0, 0.5, 1.0], [0.0, 3.0, -1.0]])
    assert margins(logits).tolist() == [1.0, 3.0]
    assert margins(logits, torch.tensor([2, 0])).tolist() == [-1.0, -3.0]


def test_the_global_certificate_of_a_linear_map_is_the_exact_distance_to_its_boundary():
    # f(x) = W x with rows w0, w1: the boundary f0 = f1 is the hyperplane (w0 - w1) x = 0, at
    # distance |(w0 - w1) x| / ||w0 - w1|| from x. The global form divides the margin by
    # sqrt(2) ||W||_2, which is below it; the pairwise form with L = 1 is exact.
    w = torch.tensor([[1.0, 2.0], [-1.0, 0.5]], dtype=torch.float64)
    x = torch.tensor([[0.3, 0.4]], dtype=torch.float64)
    logits = x @ w.T
    target = logits.argmax(1)
    exact = float((logits[0, 0] - logits[0, 1]).abs() / (w[0] - w[1]).norm())
    pairwise = certificate(
        logits, target, certificate_scales(logits, target, 1.0, row_distances(w))
    )
    assert float(pairwise) == pytest.approx(exact, rel=1e-12)
    lip = float(torch.linalg.matrix_norm(w, 2))
    global_ = certificate(logits, target, certificate_scales(logits, target, lip))
    assert 0 < float(global_) <= exact
    assert float(global_) == pytest.approx(float(margins(logits)) / (math.sqrt(2) * lip))


def test_a_misclassified_row_has_a_negative_radius_and_identical_rows_never_flip():
    logits = torch.tensor([[0.0, 1.0, 1.0]])
    scales = torch.tensor([[0.0, 1.0, 0.0]])  # rows 0 and 2 identical to the target's
    assert float(certificate(logits, torch.tensor([0]), scales)) == -1.0
    assert float(certificate(torch.tensor([[2.0, 1.0]]), torch.tensor([0]), torch.zeros(1, 2))) == (
        math.inf
    )


# --- spectral estimators ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_power_iteration_never_exceeds_the_exact_norm(seed):
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(7, 5, generator=gen, dtype=torch.float64)
    exact = float(spectral_norm_exact(w))
    assert exact == pytest.approx(float(torch.linalg.svdvals(w)[0]), rel=1e-12)
    for n in (1, 3, 50):
        sigma, u = power_iteration(w, n_iter=n)
        assert float(sigma) <= exact * (1 + 1e-12)
        assert float(u.norm()) == pytest.approx(1.0)
    assert float(power_iteration(w, n_iter=200)[0]) == pytest.approx(exact, rel=1e-6)


def test_operator_power_iteration_on_a_conv_is_below_its_exact_norm():
    gen = torch.Generator().manual_seed(0)
    k = torch.randn(3, 2, 3, 3, generator=gen, dtype=torch.float64)
    op = lambda v: nn.functional.conv2d(v, k, padding=1, stride=2)  # noqa: E731
    exact = _conv_matrix_norm(op, (2, 6, 6))
    sigma, _ = operator_power_iteration(op, (2, 6, 6), n_iter=200)
    assert sigma <= exact * (1 + 1e-9)
    assert sigma == pytest.approx(exact, rel=1e-4)


# --- the FFT convolution bound ------------------------------------------------------------------


def _conv_matrix_norm(op, shape) -> float:
    """The exact l2 norm of a linear map, from its matrix (one column per basis vector)."""
    n = math.prod(shape)
    eye = torch.eye(n, dtype=torch.float64).reshape(n, *shape)
    return float(torch.linalg.matrix_norm(op(eye).reshape(n, -1), 2))


@pytest.mark.parametrize(
    ("stride", "padding", "dilation", "groups"),
    [(1, 1, 1, 1), (2, 1, 1, 1), (1, 0, 1, 1), (1, 2, 2, 1), (1, 1, 1, 2), (2, "same", 1, 1)],
)
def test_the_fft_bound_is_at_least_the_exact_norm_of_the_convolution(
    stride, padding, dilation, groups
):
    if padding == "same" and stride != 1:
        padding = 1  # torch refuses "same" with a stride
    gen = torch.Generator().manual_seed(1)
    k = torch.randn(4, 4 // groups, 3, 3, generator=gen, dtype=torch.float64)
    kw = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
    op = lambda v: nn.functional.conv2d(v, k, **kw)  # noqa: E731
    exact = _conv_matrix_norm(op, (4, 7, 7))
    bound = conv_norm_fft(k, (7, 7), **kw)
    assert bound >= exact * (1 - 1e-9)
    assert bound <= 3 * exact  # sound, and not vacuous on these sizes


# --- input checks -------------------------------------------------------------------------------


def test_check_eps_expands_validates_and_never_narrows():
    x32 = torch.zeros(3, 4)
    assert check_eps(0.5, x32).tolist() == [0.5] * 3
    assert check_eps([0.1, 0.2, 0.3], x32).shape == (3,)
    assert float(check_eps(0.7, x32, dtype=torch.float64)[0]) == 0.7  # not 0.6999999881
    for bad, match in ((-0.1, "finite and >= 0"), (math.nan, "finite"), (36, "0-255|36/255")):
        with pytest.raises(ValueError, match=match):
            check_eps(bad, x32)
    with pytest.raises(ValueError, match="one value per input"):
        check_eps([0.1, 0.2], x32)
    assert check_eps(36, x32, box=None).tolist() == [36.0] * 3  # no box: no diameter check


def test_check_labels_refuses_what_would_broadcast_or_is_not_a_class_index():
    assert check_labels([0, 2], 2).dtype == torch.int64
    for bad, match in (
        (torch.tensor([[0], [1]]), "shape"),
        (torch.tensor([0.0, 1.0]), "integer"),
        (torch.tensor([True, False]), "integer"),
        ([0, 1, 2], "shape"),
    ):
        with pytest.raises(ValueError, match=match):
            check_labels(bad, 2)


def test_check_count_and_check_box():
    assert check_count("steps", 3) == 3
    for bad in (True, 0, 2.0, "3"):
        with pytest.raises(ValueError, match="steps must be an integer >= 1"):
            check_count("steps", bad)
    assert check_box((0, 255)) == (0.0, 255.0) and check_box(None) is None
    for bad in ((1, 0), (0, math.inf), "ab", (0,)):
        with pytest.raises(ValueError, match="box must be"):
            check_box(bad)


def test_check_local_inputs_and_model_dtype():
    model = nn.Linear(4, 2)
    x = torch.rand(3, 4)
    eps, box = check_local_inputs(model, x, 0.1, (0.0, 1.0))
    assert eps.dtype == torch.float64 and box == (0.0, 1.0)
    for bad_x, match in (
        (x.double(), "model computes in torch.float32"),
        (x + 2, "outside the box"),
        (torch.ones(3, 4, dtype=torch.int64), "floating tensor"),
        (torch.full((3, 4), math.nan), "NaN or inf"),
        (torch.rand(4), "batched"),
    ):
        with pytest.raises(ValueError, match=match):
            check_local_inputs(model, bad_x, 0.1, (0.0, 1.0))
    assert model_dtype(model) is torch.float32 and model_dtype(model.double()) is torch.float64
    with pytest.raises(ValueError, match="fp32 or wider"):
        model_dtype(nn.Linear(2, 2).half())
