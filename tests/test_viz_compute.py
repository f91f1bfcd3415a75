"""The compute layer behind the explorers: spectra, traces and curves against known answers."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from lipviz.layers import SOC
from lipviz.viz import compute


def _dense(fn, shape):
    x = torch.zeros((1, *shape), dtype=torch.float64)
    jac = torch.func.jacrev(lambda v: fn(v).flatten())(x)
    return jac.reshape(-1, x.numel()).detach()


def test_linear_and_circular_conv_spectra_match_dense_svd():
    torch.manual_seed(0)
    lin = nn.Linear(5, 3).double()
    conv = nn.Conv2d(2, 3, 3, padding=1, bias=False).double()
    model = nn.Sequential(conv, nn.Flatten(), nn.Linear(3 * 36, 5).double(), nn.ReLU(), lin)
    spectra = compute.layer_spectra(model, (2, 6, 6))
    assert set(spectra.type) == {"Conv2d", "Linear"}
    got_lin = np.sort(spectra[spectra.name == "4"].sigma.to_numpy())
    assert np.allclose(got_lin, np.sort(torch.linalg.svdvals(lin.weight.detach()).numpy()))
    # the circular convolution on the 6x6 grid: same largest and smallest values as dense SVD
    circular = nn.Conv2d(2, 3, 3, padding=1, bias=False, padding_mode="circular").double()
    circular.weight.data.copy_(conv.weight.data)
    dense = torch.linalg.svdvals(_dense(circular, (2, 6, 6))).numpy()
    got = spectra[spectra.name == "0"].sigma.to_numpy()
    assert got.max() == pytest.approx(dense.max(), rel=1e-9)
    assert np.isin(np.round(got, 8), np.round(dense, 8)).all()  # every value is a true one


@pytest.mark.parametrize("stride", [1, 2])
def test_soc_spectrum_is_the_truncated_series_per_frequency(stride):
    torch.manual_seed(1)
    soc = SOC(2, 4, 3, stride=stride, bias=False, eval_terms=2, multiplier=1.0).double().eval()
    got = np.sort(compute.layer_spectra(nn.Sequential(soc), (2, 8, 8)).sigma.to_numpy())
    filt = soc.normalized_filter().detach().double()

    def circular_series(x):  # the same layer with circular padding, evaluated directly
        x = F.pixel_unshuffle(x, stride) if stride > 1 else x
        x = F.pad(x, (0, 0, 0, 0, 0, soc.channels - x.shape[1]))
        out, term = x, x
        for k in range(1, 3):
            term = F.conv2d(F.pad(term, (1, 1, 1, 1), mode="circular"), filt) / k
            out = out + term
        return out[:, : soc.out_channels]

    dense = np.sort(torch.linalg.svdvals(_dense(circular_series, (2, 8, 8))).numpy())
    assert got.size == dense.size and np.allclose(got, dense, atol=1e-9)
    assert got.max() > 1 + 1e-4  # two terms: visibly not orthogonal
    at_eval = SOC(2, 4, 3, stride=stride).double().eval()
    sv = compute.layer_spectra(nn.Sequential(at_eval), (2, 8, 8)).sigma
    assert np.allclose(sv, 1.0, atol=1e-6)  # at 12 terms the spectrum sits at 1


def test_layer_spectra_needs_a_linear_layer():
    with pytest.raises(ValueError, match="no Linear"):
        compute.layer_spectra(nn.Sequential(nn.ReLU()), (3,))


def test_power_iteration_trace_is_below_exact_below_sound():
    torch.manual_seed(2)
    conv = nn.Conv2d(2, 3, 3, padding=1)
    t = compute.power_iteration_trace(conv, (2, 5, 5), n_iter=30)
    assert len(t) == 30 and (t.estimate <= t.exact * (1 + 1e-9)).all()
    assert (t.exact <= t.sound * (1 + 1e-9)).all()
    assert t.estimate.iloc[-1] == pytest.approx(t.exact.iloc[0], rel=1e-3)
    with pytest.raises(ValueError, match="n_iter"):
        compute.power_iteration_trace(conv, (2, 5, 5), n_iter=0)


def test_accuracy_vs_eps_is_ordered(trained_toy):
    x, y = trained_toy.train.x[:80], trained_toy.train.y[:80]
    t = compute.accuracy_vs_eps(trained_toy.model, x, y, [0.0, 0.1, 0.3], box=None)
    assert list(t.eps) == [0.0, 0.1, 0.3]
    assert (t.certified <= t.empirical + 1e-12).all() and (t.empirical <= t.clean + 1e-12).all()
    assert t.certified.is_monotonic_decreasing and t.clean.nunique() == 1


def test_accuracy_vs_eps_attacks_only_what_may_still_flip(trained_toy, monkeypatch):
    """Certified inputs are not attacked, nor inputs already flipped at a smaller ε; the
    result matches attacking every correct input at every ε, taken cumulatively."""
    import lipviz.attacks

    x, y = trained_toy.train.x[:80], trained_toy.train.y[:80]
    eps = [0.3, 0.0, 0.1]  # any order: the rows come back in it
    radii = compute.correct_radii(trained_toy.model, x, y)
    attacked = []
    pgd = lipviz.attacks.pgd_l2

    def recording(model, xs, ys, e, **kw):
        attacked.append((e, xs.clone()))
        return pgd(model, xs, ys, e, **kw)

    monkeypatch.setattr(lipviz.attacks, "pgd_l2", recording)
    t = compute.accuracy_vs_eps(trained_toy.model, x, y, eps, box=None)
    assert list(t.eps) == eps and [e for e, _ in attacked] == [0.1, 0.3]
    flipped = torch.zeros(len(x), dtype=torch.bool)
    for e, xs in attacked:
        rows = [int((x == xi).all(1).nonzero()[0, 0]) for xi in xs]
        assert not (radii[rows] > e).any()  # no certified input was attacked
        assert not flipped[rows].any()  # nor one already flipped
        flipped[rows] = pgd(trained_toy.model, x[rows], y[rows], e, box=None).success
    expected = float((torch.as_tensor(radii > 0) & ~flipped).double().mean())
    assert t.set_index("eps").empirical[0.3] == pytest.approx(expected)
    assert t.sort_values("eps").empirical.is_monotonic_decreasing


def test_lmt_c_profile_is_the_certified_fraction(linear_classifier):
    linear, x, _, distance = linear_classifier
    model = nn.Sequential(linear)  # pairwise form: exact distances for a linear model
    y = torch.zeros(len(x), dtype=torch.long)  # some points misclassified on purpose
    t = compute.lmt_c_profile(model, x, y, [0.0, 0.05, 0.2])
    with torch.no_grad():
        correct = model(x).argmax(1) == y
    for c, met in zip(t.c, t.fraction_met, strict=True):
        expected = float((correct & (distance > c)).float().mean())
        assert met == pytest.approx(expected)
    assert t.lmt_loss.is_monotonic_increasing


def test_point_certificate_on_the_slab(slab):
    _, ref, model = slab
    out = compute.point_certificate(model, [0.3, 0.1], r_max=2.0)
    # a linear classifier: certified radius = true distance = |w.x| / ||w|| (pairwise form)
    w = (ref.weight[0] - ref.weight[1]).double()
    exact = abs(float(w @ torch.tensor([0.3, 0.1], dtype=torch.float64))) / float(w.norm())
    assert out["certified_radius"] == pytest.approx(exact, rel=1e-5)
    assert out["true_distance"] == pytest.approx(exact, rel=1e-3)


def test_tightness_summary_counts_violations():
    t = pd.DataFrame(
        {"certified_radius": [0.5, 1.2, 0.0, 0.3], "true_distance": [1.0, 1.0, 2.0, np.inf]}
    )
    s = compute.tightness_summary(t).iloc[0]
    assert s.points == 4
    assert s.violations == 1
    assert s.certified_fraction == 0.75
    assert s.ratio_median == 0.5


def test_gradient_norm_decay_known_answers():
    from torch import nn

    from lipviz.layers import MaxMin

    t = compute.gradient_norm_decay(
        {"relu": lambda w: nn.ReLU(), "maxmin": lambda w: MaxMin()}, depth=6, width=16, n=128
    )
    maxmin = t[t.activation == "maxmin"].grad_norm
    relu = t[t.activation == "relu"].grad_norm.to_numpy()
    assert np.allclose(maxmin, 1.0, atol=1e-5)  # orthogonal layers + GNP activation
    assert (np.diff(relu) < 0).all() and relu[-1] < 0.3  # about sqrt(1/2) per layer
