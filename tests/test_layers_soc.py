"""Skew-orthogonal convolutions and the orthogonal last layer (lipviz.layers.soc) against dense
Jacobians."""

import math

import pytest
import torch
from conftest import dense_jacobian
from torch import nn

import lipviz
from lipviz.layers import (
    SOC,
    OrthogonalLinear,
    terms_for_tolerance,
)
from lipviz.layers.soc import skew_symmetrize

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
