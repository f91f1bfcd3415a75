"""The elementwise rules of the local walk against their definitions."""

from __future__ import annotations

import torch

from lipviz.bounds.local_kernels import centre_halfwidth, clip_box, meet_box


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
