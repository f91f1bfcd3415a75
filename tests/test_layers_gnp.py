"""Gradient-norm-preserving layers: SOC orthogonality and its sound bound, Householder, LLN."""

import math

import pytest
import torch
from torch import nn
from torch.func import jacrev

import lipviz
from lipviz.layers import (
    LLN,
    SOC,
    Householder,
    Householder2,
    MaxMin,
    OrthogonalLinear,
    terms_for_tolerance,
)
from lipviz.layers.soc import skew_symmetrize


def dense_jacobian(f, x):
    return jacrev(lambda v: f(v[None]).flatten())(x).reshape(-1, x.numel()).detach()


SOCS = [(4, 4, 3, 1, 6), (3, 8, 3, 1, 5), (2, 4, 3, 2, 6), (8, 4, 3, 1, 5), (6, 6, 1, 1, 4)]


@pytest.mark.parametrize("cfg", SOCS, ids=lambda c: "-".join(map(str, c)))
def test_soc_is_orthogonal_at_eval_terms_and_bounded(cfg):
    c_in, c_out, k, s, n = cfg
    torch.manual_seed(0)
    soc = SOC(c_in, c_out, k, s, bias=False).double().eval()
    x = torch.randn(c_in, n, n, dtype=torch.float64)
    sv = torch.linalg.svdvals(dense_jacobian(soc, x))
    assert float(sv.max()) <= 1 + 1e-5
    if c_out >= c_in * s * s:  # no slicing: gradient-norm-preserving
        assert float(sv.min()) >= 1 - 1e-5
    bound = lipviz.lipschitz_bound(soc, (c_in, n, n))
    assert bound.sound and float(sv.max()) <= bound.value
    assert bound.value - 1 < 1e-6


def test_skew_symmetry_of_the_jacobian():
    torch.manual_seed(1)
    w = torch.randn(5, 5, 3, 3, dtype=torch.float64)
    filt = skew_symmetrize(w)
    conv = nn.Conv2d(5, 5, 3, padding=1, bias=False).double()
    conv.weight.data.copy_(filt)
    jac = dense_jacobian(conv, torch.zeros(5, 4, 4, dtype=torch.float64))
    assert torch.allclose(jac, -jac.T, atol=1e-12)


def test_training_terms_are_not_exactly_orthogonal_and_the_bound_says_so():
    torch.manual_seed(2)
    soc = SOC(6, 6, 3, bias=False, multiplier=1.0).double().eval()
    soc.eval_terms = 2  # a deliberately short series
    x = torch.randn(6, 5, 5, dtype=torch.float64)
    top = float(torch.linalg.svdvals(dense_jacobian(soc, x)).max())
    bound = lipviz.lipschitz_bound(soc, (6, 5, 5)).value
    assert top <= bound
    assert bound > 1.01  # the truncation error term is visible


def test_fresh_layer_is_well_scaled_and_eval_never_updates_buffers():
    soc = SOC(4, 4, 3)
    assert soc.operator_norm_bound((4, 8, 8)) < 3.0  # scaled at construction, not stale
    with torch.no_grad():
        soc.weight.add_(torch.randn_like(soc.weight))  # the stored vectors are now stale
    soc.eval()
    before = {k: v.clone() for k, v in soc.state_dict().items()}
    for _ in range(20):
        soc(torch.randn(2, 4, 8, 8))
    assert all(torch.equal(before[k], v) for k, v in soc.state_dict().items())
    soc.train()
    soc(torch.randn(2, 4, 8, 8))
    assert not torch.equal(before["u0"], soc.u0)


def test_terms_for_tolerance():
    k = terms_for_tolerance(1.5, 1e-8)
    assert 1.5 ** (k + 1) / math.factorial(k + 1) <= 1e-8 < 1.5**k / math.factorial(k)
    soc = SOC(4, 4, 3)
    assert soc.set_eval_terms((4, 8, 8), tol=1e-10) == soc.eval_terms
    with pytest.raises(ValueError, match="tol"):
        terms_for_tolerance(1.0, 0.0)


def test_soc_argument_errors():
    with pytest.raises(ValueError, match="odd"):
        SOC(2, 2, 4)
    with pytest.raises(ValueError, match="stride"):
        SOC(2, 2, 3, stride=3)
    with pytest.raises(ValueError, match="expects"):
        SOC(2, 2, 3)(torch.zeros(1, 3, 4, 4))


def test_householder_preserves_norms_and_equals_maxmin_at_half_pi():
    hh = Householder(6).double()
    with torch.no_grad():
        hh.theta.uniform_(0, 2 * math.pi)
    x = torch.randn(6, 3, 3, dtype=torch.float64)
    sv = torch.linalg.svdvals(dense_jacobian(hh, x))
    assert torch.allclose(sv, torch.ones_like(sv), atol=1e-12)
    z = torch.randn(10, 6)
    a, b = z.chunk(2, dim=1)
    expected = torch.cat([torch.minimum(a, b), torch.maximum(a, b)], dim=1)
    assert torch.allclose(Householder(6)(z), expected)
    # the same as MaxMin on the pairs (i, i + C/2), up to a fixed channel permutation
    perm = torch.arange(6).view(2, 3).T.flatten()  # interleave the halves
    maxmin = MaxMin()(z[:, perm])
    assert torch.allclose(maxmin[:, 1::2], expected[:, :3]) and torch.allclose(
        maxmin[:, 0::2], expected[:, 3:]
    )
    assert lipviz.bounds.layer_bound(hh, (6,)).value == 1.0


@pytest.mark.parametrize("seed", range(4))
def test_householder2_is_continuous_norm_preserving_and_1_lipschitz(seed):
    torch.manual_seed(seed)
    act = Householder2(8, seed=seed).double()
    with torch.no_grad():
        act.theta.uniform_(0, 2 * math.pi)
    x = torch.randn(8, 3, 3, dtype=torch.float64)
    sv = torch.linalg.svdvals(dense_jacobian(act, x))
    assert torch.allclose(sv, torch.ones_like(sv), atol=1e-12)  # gradient-norm-preserving
    # continuity: tiny steps never jump (a sector mismatch gives ratios ~1e4), and far pairs
    # never expand; points sit right next to the sector boundaries too
    z = 3 * torch.randn(4000, 8, dtype=torch.float64)
    step = 1e-6 * torch.randn_like(z)
    near = (act(z + step) - act(z)).norm(dim=1) / step.norm(dim=1)
    far = (act(z) - act(z.flip(0))).norm(dim=1) / (z - z.flip(0)).norm(dim=1)
    assert near.max() < 1 + 1e-6 and far.max() < 1 + 1e-9
    t0, t1, t2 = act.theta.detach()[:, 0]
    edges = t0 / 2 + torch.stack([t1 / 2, (t1 + t2) / 2, math.pi + t2 / 2, torch.zeros(())])
    for e in edges:
        pair = torch.zeros(2, 8, dtype=torch.float64)
        pair[0, 0], pair[0, 4] = torch.cos(e - 1e-9), torch.sin(e - 1e-9)
        pair[1, 0], pair[1, 4] = torch.cos(e + 1e-9), torch.sin(e + 1e-9)
        out = act(pair)
        assert (out[0] - out[1]).norm() < 1e-8
    assert lipviz.bounds.layer_bound(act, (8,)).value == 1.0
    loss = act(z).square().sum() + act(z).sum()
    loss.backward()
    assert act.theta.grad is not None and act.theta.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="even"):
        Householder2(3)


def test_orthogonal_linear_last_layer_is_orthogonal_and_certifies_globally():
    torch.manual_seed(6)
    layer = OrthogonalLinear(6, 4).double().eval()
    x = torch.randn(6, dtype=torch.float64)
    jac = torch.func.jacrev(lambda v: layer(v[None])[0])(x)
    sv = torch.linalg.svdvals(jac)
    assert torch.allclose(sv, torch.ones_like(sv), atol=1e-9)  # rows of an orthogonal matrix
    assert lipviz.bounds.layer_bound(layer, (6,)).value <= 1 + 1e-9
    model = nn.Sequential(nn.Linear(3, 6), nn.ReLU(), OrthogonalLinear(6, 4)).eval()
    cert = lipviz.certified_radius(model, torch.randn(5, 3))
    assert cert.form == "global"
    with pytest.raises(ValueError, match="expects"):
        layer(torch.zeros(2, 5, dtype=torch.float64))


def test_certificate_regularization_with_an_orthogonal_last_layer():
    from lipviz.train import CertificateRegularized

    torch.manual_seed(7)
    model = nn.Sequential(nn.Linear(5, 6), OrthogonalLinear(6, 3))
    x, y = torch.randn(8, 5), torch.randint(0, 3, (8,))
    loss, out = CertificateRegularized(gamma=0.5, lipschitz=2.0)(model, x, y, None, 0.0)
    logits = out["logits"]
    other = logits.masked_fill(nn.functional.one_hot(y, 3).bool(), -float("inf")).amax(1)
    cert = (logits.gather(1, y[:, None])[:, 0] - other) / (math.sqrt(2) * 2.0)
    expected = nn.functional.cross_entropy(logits, y) - 0.5 * torch.relu(cert).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_lln_certificate_equals_brute_force():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), LLN(8, 6))
    assert torch.allclose(model[-1].weight.norm(dim=1), torch.ones(6))
    x = torch.randn(30, 5)
    cert = lipviz.certified_radius(model, x)
    assert cert.form == "pairwise"
    prefix = lipviz.lipschitz_bound(model[:-1], (5,)).value
    w = model[-1].weight.detach()
    with torch.no_grad():
        logits = model(x)
    for i in range(30):
        t = int(logits[i].argmax())
        brute = min(float(logits[i, t] - logits[i, j]) / (prefix * float((w[t] - w[j]).norm()))
                    for j in range(6) if j != t)  # fmt: skip
        assert float(cert.radius[i]) == pytest.approx(brute, rel=1e-5)


def test_lipconvnet_shapes_and_sound_bound():
    model = lipviz.models.create("lipconvnet", depth=5, init_channels=4).eval()
    x = torch.rand(2, 3, 32, 32)
    assert model(x).shape == (2, 10)
    bound = lipviz.lipschitz_bound(model, (3, 32, 32))
    assert bound.sound
    t = bound.table
    # orthogonal layers at 12 eval terms: each SOC is 1 up to the truncation term
    assert (t[t.type == "SOC"].bound <= 1 + 1e-6).all()
    assert t.bound.iloc[0] == pytest.approx(1 / min(lipviz.data.CIFAR10_STD))
    cert = lipviz.certified_radius(model, x)
    assert cert.form == "pairwise" and cert.lipschitz == pytest.approx(t.bound.iloc[:-1].prod())
    soc_last = lipviz.models.create("lipconvnet", depth=5, init_channels=4, last_layer="soc")
    assert soc_last.eval()(x).shape == (2, 10)
    assert lipviz.certified_radius(soc_last, x).form == "global"
    hh2 = lipviz.models.create("lipconvnet", depth=5, init_channels=4, activation="hh2")
    assert hh2.eval()(x).shape == (2, 10)
    with pytest.raises(ValueError, match="depth"):
        lipviz.models.create("lipconvnet", depth=7)


def test_certificate_regularization_matches_brute_force():
    from lipviz.train import CertificateRegularized

    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), LLN(8, 4))
    x, y = torch.randn(16, 5), torch.randint(0, 4, (16,))
    loss, _ = CertificateRegularized(gamma=0.3, lipschitz=2.0)(model, x, y, None, 0.0)
    logits = model(x)
    w = model[-1].weight

    def pair(i, j):
        return (logits[i, y[i]] - logits[i, j]) / (2.0 * (w[y[i]] - w[j]).norm())

    cert = torch.stack([min(pair(i, j) for j in range(4) if j != y[i]) for i in range(16)])
    expected = nn.functional.cross_entropy(logits, y) - 0.3 * torch.relu(cert).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_truncation_table_is_bounded_and_converges():
    from lipviz.exact import truncation_table

    torch.manual_seed(5)
    soc = SOC(4, 4, 3, bias=False, multiplier=1.0).double()
    table = truncation_table(soc, (4, 5, 5), terms=(1, 2, 4, 8, 12))
    assert (table.sigma_max <= table.bound * (1 + 1e-9)).all()
    assert abs(table.sigma_max.iloc[-1] - 1) < 1e-6 and abs(table.sigma_min.iloc[-1] - 1) < 1e-6
    assert table.bound.is_monotonic_decreasing
    assert soc.eval_terms == 12  # restored


def test_run_soc_smoke_writes_a_sound_run(tmp_path):
    cfg = lipviz.resolve("soc", "smoke", epochs=1, init_channels=4, n_test=100, n_val_eval=100)
    result = lipviz.experiments.run_soc(cfg, out_dir=tmp_path, progress=False)
    assert result.summary["certificate"] == "pairwise, sound"
    assert (tmp_path / "summary.json").exists()
    test = lipviz.load_dataset("mnist5k", "test").subset(60)
    report = lipviz.audit(result.model, test.x, test.y, restarts=2, steps=30, lipschitz_steps=5)
    assert report.violations == 0
