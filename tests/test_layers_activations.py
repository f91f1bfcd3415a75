"""Gradient-norm-preserving activations (lipviz.layers.activations) against dense Jacobians."""

import math

import pytest
import torch
from conftest import dense_jacobian

import lipviz
from lipviz.layers import (
    Householder,
    Householder2,
    MaxMin,
)


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
