"""The elementwise rules of the local walk against their definitions."""

from __future__ import annotations

import torch

from lipviz.bounds.local import centre_halfwidth, clip_box, meet_box


def test_meet_box_is_the_intersection_of_the_ibp_and_ball_boxes():
    gen = torch.Generator().manual_seed(0)
    mu, mid = torch.randn(4, 3, generator=gen), torch.randn(4, 3, generator=gen)
    rad, rownorm = torch.rand(4, 3, generator=gen), torch.rand(1, 3, generator=gen)
    bias, radius = torch.randn(1, 3, generator=gen), torch.rand(4, 1, generator=gen)
    centre, lo, hi = meet_box(mu, mid, rad, bias, radius, rownorm)
    reach = radius * rownorm
    assert torch.equal(centre, mu + bias)
    assert torch.equal(lo, torch.maximum(mid + bias - rad, mu + bias - reach))
    assert torch.equal(hi, torch.minimum(mid + bias + rad, mu + bias + reach))


def test_clip_box_fixes_dead_and_saturated_neurons_only():
    theta = torch.tensor([1.0, 1.0, 1.0, 1.0])
    lo, hi = torch.tensor([[-2.0, -0.5, 0.2, 1.5]]), torch.tensor([[-1.0, 0.5, 0.8, 2.0]])
    mu, clo, chi, varies = clip_box((lo + hi) / 2, lo, hi, theta)
    assert varies.tolist() == [[False, True, True, False]]  # dead, varies, varies, saturated
    assert torch.equal(clo, torch.tensor([[0.0, 0.0, 0.2, 1.0]]))
    assert torch.equal(chi, torch.tensor([[0.0, 0.5, 0.8, 1.0]]))
    c, r = centre_halfwidth(lo, hi)
    assert torch.allclose(c - r, lo) and torch.allclose(c + r, hi)


def _leaves(*shapes, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=gen, dtype=torch.float64).requires_grad_() for s in shapes]


def test_meet_box_relu_form_under_autograd_matches_maximum_and_minimum():
    mu, mid, rad, bias, radius, rownorm = _leaves((5, 4), (5, 4), (5, 4), (1, 4), (5, 1), (1, 4))
    rad, radius, rownorm = rad.abs(), radius.abs(), rownorm.abs()
    got = meet_box(mu, mid, rad, bias, radius, rownorm)  # autograd records: the ReLU form
    reach = radius * rownorm
    want = (
        mu + bias,
        torch.maximum(mid + bias - rad, mu + bias - reach),
        torch.minimum(mid + bias + rad, mu + bias + reach),
    )
    weights = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    inputs = (mu, mid, rad, bias, radius, rownorm)
    grads = [
        torch.autograd.grad(sum((w * t).sum() for w, t in zip(weights, out, strict=True)), inputs)
        for out in (got, want)
    ]
    for g, w in zip(got, want, strict=True):
        assert torch.allclose(g, w, atol=1e-12)
    for a, b in zip(*grads, strict=True):  # random data: no ties, so the subgradients agree
        assert torch.allclose(a, b, atol=1e-12)
    with torch.no_grad():  # without autograd: the exact maximum and minimum
        assert all(torch.equal(g, w) for g, w in zip(meet_box(*inputs), want, strict=True))


def test_clip_box_relu_form_under_autograd_matches_clamp():
    mu, lo, hi, theta = _leaves((6, 3), (6, 3), (6, 3), (1, 3))
    theta = theta.abs() + 0.1
    got = clip_box(mu, lo, hi, theta)
    want = [torch.clamp(t, torch.zeros_like(theta), theta) for t in (mu, lo, hi)]
    for g, w in zip(got[:3], want, strict=True):
        assert torch.allclose(g, w, atol=1e-12)
    inputs = (mu, lo, hi, theta)
    grads = [
        torch.autograd.grad(sum(t.sum() * (i + 1) for i, t in enumerate(out[:3])), inputs)
        for out in (got, want)
    ]
    for a, b in zip(*grads, strict=True):
        assert torch.allclose(a, b, atol=1e-12)
    # a negative threshold (before the projection): the ReLU identity fails, clamp is used
    neg = torch.tensor([[-0.5, 1.0, 1.0]], requires_grad=True)
    z = torch.tensor([[-0.2, 0.5, 2.0]], requires_grad=True)
    out = clip_box(z, z, z, neg)[0]
    assert torch.equal(out, torch.clamp(z, torch.zeros_like(neg), neg))


def test_pair_and_threshold_forms_under_autograd_match_maximum_and_minimum():
    from lipviz.bounds.local import at_least, at_most, pair_max_min

    a, b, theta = _leaves((6, 4), (6, 4), (1, 4), seed=3)
    cases = [
        (lambda: pair_max_min(a, b), lambda: (torch.maximum(a, b), torch.minimum(a, b))),
        (lambda: (at_most(a, theta),), lambda: (torch.minimum(a, theta),)),
        (lambda: (at_least(a, theta),), lambda: (torch.maximum(a, theta),)),
    ]
    for fast, exact in cases:
        got, want = fast(), exact()
        for g, w in zip(got, want, strict=True):
            assert torch.allclose(g, w, atol=1e-12)
        grads = [
            torch.autograd.grad(
                sum(t.sum() * (i + 2) for i, t in enumerate(out)), (a, b, theta), allow_unused=True
            )
            for out in (got, want)
        ]
        for ga, gb in zip(*grads, strict=True):
            assert (ga is None and gb is None) or torch.allclose(ga, gb, atol=1e-12)
        with torch.no_grad():  # without autograd: the exact operations
            assert all(torch.equal(g, w) for g, w in zip(fast(), exact(), strict=True))
