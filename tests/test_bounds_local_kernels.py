"""The elementwise rules of the local walk: their values, the unfused path, the fallback when
torch.compile cannot build, and (slow: it builds the kernels) fused against unfused training."""

from __future__ import annotations

import pytest
import torch

from lipviz.bounds import local_kernels
from lipviz.bounds.local_kernels import centre_halfwidth, clip_box, kernel, meet_box


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


def test_unfused_kernels_are_the_functions_themselves():
    for fn in (centre_halfwidth, meet_box, clip_box):
        assert kernel(fn, fused=False) is fn


def test_a_kernel_that_cannot_be_built_warns_once_and_runs_unfused(monkeypatch):
    def broken(fn, **kw):
        def call(*args):
            raise RuntimeError("no C++ compiler")

        return call

    monkeypatch.setattr(local_kernels.torch, "compile", broken)
    monkeypatch.setattr(local_kernels, "_FUSED", {})
    lo, hi = torch.zeros(2), torch.ones(2)
    fused = kernel(centre_halfwidth, fused=True)
    with pytest.warns(RuntimeWarning, match="no C\\+\\+ compiler"):
        c, r = fused(lo, hi)
    assert c.tolist() == [0.5, 0.5] and r.tolist() == [0.5, 0.5]
    c, _ = fused(lo, hi)  # no second warning, same values
    assert c.tolist() == [0.5, 0.5]


@pytest.mark.slow
def test_fused_training_loss_and_gradients_match_unfused():
    """Builds the kernels with torch.compile (minutes on 2 cores): slow."""
    import lipviz
    from lipviz.train import LocalLip

    gen = torch.Generator().manual_seed(0)
    x, y = torch.rand(16, 1, 28, 28, generator=gen), torch.randint(0, 10, (16,), generator=gen)
    out = {}
    for fused in (False, True):
        model = lipviz.create_model("4c3f", activation="clipped-relu", normalize=None, seed=0)
        obj = LocalLip(eps=1.0, rampup_epochs=1.0, sparsity=0.1, compile=fused)
        loss, _ = obj(model, x, y, None, 0.5)
        loss.backward()
        out[fused] = loss.detach(), [p.grad for p in model.parameters()]
    assert torch.allclose(out[False][0], out[True][0], rtol=1e-5)
    for a, b in zip(out[False][1], out[True][1], strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6 * float(a.abs().max()))
