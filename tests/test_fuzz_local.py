"""A randomized soundness fuzzer for the local path (Hypothesis): local Lipschitz bounds,
local certificates and local certified radii on random chains, checked against exact and
attack oracles, with the inputs the contract must refuse.

On every draw that lipviz accepts:

- the sound local bound of each ball is >= the exact Jacobian norm at random points of
  ball :math:`\\cap` box (computed in float64 on a float64 copy of the model);
- no random point and no PGD point of ball :math:`\\cap` box changes the class of an input
  certified there (the model's own prediction), nor inside a local certified radius;
- no call changes the model, its mode or the caller's inputs.

The draws cover dense and convolutional chains of every layer the local walk supports
(Linear, Conv2d, ReLU, clipped ReLU, MaxMin, clipped MaxMin, Normalize, Flatten), weights
whose columns differ by up to nine orders of magnitude, dead neurons with huge outgoing
weights, float32 and float64, data in [0, 1] or standardised (with or without a box), and ε
from tiny to large. Some draws carry what the contract refuses (a box that excludes x, a
NaN or inf input, a float16 or bfloat16 model, integer inputs, an in-place first layer, ε
in 0-255 units): those must raise a clear error and leave the inputs as they were.

``make test`` runs a fast, derandomized profile (well under two minutes on 2 cores);
``pytest -m slow -k fuzz_local`` runs the long one (``LIPVIZ_FUZZ_EXAMPLES``, default 2000).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field

import pytest
import torch
from conftest import jacobian_norm
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from torch import nn

import lipviz
from lipviz.certify import local_certified, local_certified_radius, predict

REFUSALS = ["outside-box", "nan", "inf", "half", "bfloat16", "integer", "inplace", "eps-255"]


@dataclass
class Draw:
    """What was drawn, for Hypothesis' failure report."""

    data: object
    gen: torch.Generator
    log: list = field(default_factory=list)

    def pick(self, label, strategy):
        value = self.data.draw(strategy, label=label)
        self.log.append((label, value))
        if isinstance(value, str):
            event(f"{label}: {value}")
        return value

    def randn(self, *shape):
        return torch.randn(*shape, generator=self.gen, dtype=torch.float64)


def _weights(d: Draw, layer: nn.Module) -> nn.Module:
    """Random weights, some columns scaled by up to 1e9, biases that kill some neurons."""
    with torch.no_grad():
        w = d.randn(*layer.weight.shape) / max(1, layer.weight[0].numel()) ** 0.5
        if d.pick("huge columns", st.booleans()):
            scale = 10.0 ** d.pick("log10 scale", st.integers(1, 9))
            w[:, 0] = w[:, 0] * scale
        layer.weight.copy_(w.to(layer.weight.dtype))
        if layer.bias is not None:
            b = 0.5 * d.randn(*layer.bias.shape)
            if d.pick("dead neurons", st.booleans()):
                b[0] = -1e3  # dead on every ball drawn here
            layer.bias.copy_(b.to(layer.bias.dtype))
    return layer


def _activation(d: Draw, shape) -> nn.Module:
    kind = d.pick("activation", st.sampled_from(["relu", "clipped", "maxmin", "clipped-maxmin"]))
    if kind == "relu":
        return nn.ReLU()
    if kind == "clipped":
        return lipviz.ClippedReLU(shape, init=d.pick("theta", st.floats(0.05, 2.0)))
    if kind == "maxmin":
        return lipviz.MaxMin()
    return lipviz.ClippedMaxMin(shape, init_max=0.5, init_min=-0.5)


def build(d: Draw):
    """A random chain ending in nn.Linear, and its input shape."""
    kind = d.pick("kind", st.sampled_from(["dense", "dense", "conv"]))
    layers: list[nn.Module] = []
    if kind == "dense":
        n = d.pick("n_in", st.integers(1, 4))
        shape = (n,)
        if d.pick("normalize", st.booleans()):
            layers.append(lipviz.Normalize([0.5] * n, [0.25] * n))
        for _ in range(d.pick("depth", st.integers(0, 3))):
            width = 2 * d.pick("half width", st.integers(1, 4))
            layers += [_weights(d, nn.Linear(n, width)), _activation(d, (width,))]
            n = width
    else:
        c, hw = d.pick("channels", st.integers(1, 2)), d.pick("size", st.integers(3, 5))
        shape = (c, hw, hw)
        out = 2 * d.pick("half out channels", st.integers(1, 2))
        conv = nn.Conv2d(c, out, 3, padding=d.pick("padding", st.integers(0, 1)))
        layers.append(_weights(d, conv))
        side = hw + 2 * conv.padding[0] - 2
        layers += [_activation(d, (out, side, side)), nn.Flatten()]
        n = out * side * side
    classes = d.pick("classes", st.integers(2, 4))
    layers.append(_weights(d, nn.Linear(n, classes)))
    model = nn.Sequential(*layers).eval()
    if d.pick("dtype", st.sampled_from(["float32", "float64"])) == "float64":
        model = model.double()
    return model, shape


def _inputs(d: Draw, shape, dtype):
    data = d.pick("data", st.sampled_from(["unit", "unit", "standardised"]))
    n = d.pick("n", st.integers(1, 3))
    x = torch.rand(n, *shape, generator=d.gen, dtype=torch.float64)
    if data == "standardised":
        x = 3 * d.randn(n, *shape)
        box = d.pick("box of standardised data", st.sampled_from(["none", "range"]))
        box = None if box == "none" else (float(x.min()) - 0.5, float(x.max()) + 0.5)
    else:
        box = d.pick("box", st.sampled_from([None, (0.0, 1.0)]))
    return x.to(dtype), box


def _refused_case(d: Draw, kind: str, model, x, box, eps):
    """The call the contract must refuse, on a draw that carries ``kind``."""
    if kind == "outside-box":
        x = x.clone()
        x.view(-1)[0] = -0.25
        box = (0.0, 1.0)
    elif kind in ("nan", "inf"):
        x = x.clone()
        x.view(-1)[-1] = float(kind)
    elif kind in ("half", "bfloat16"):
        dtype = torch.float16 if kind == "half" else torch.bfloat16
        model, x = copy.deepcopy(model).to(dtype), x.to(dtype)
    elif kind == "integer":
        x = (x.clamp(0, 1) * 255).to(torch.uint8)
    elif kind == "inplace":
        model = nn.Sequential(nn.ReLU(inplace=True), *model).eval()
        x = x - 0.5
        box = None
    else:  # eps typed in 0-255 units
        eps = 36.0 * (1 + x[0].numel())
    return model, x, box, eps


def check_draw(data) -> None:
    d = Draw(data, torch.Generator().manual_seed(data.draw(st.integers(0, 2**16), label="seed")))
    model, shape = build(d)
    dtype = next(model.parameters()).dtype
    x, box = _inputs(d, shape, dtype)
    eps = d.pick("eps", st.sampled_from([1e-6, 0.01, 0.1, 0.3, 0.7]))
    refuse = d.pick("refuse", st.sampled_from([None] * 4 + REFUSALS))
    if refuse is not None:
        model, x, box, eps = _refused_case(d, refuse, model, x, box, eps)
        before = x.clone()
        for call in (
            lambda: lipviz.local_lipschitz_bound(model, x, eps, box=box),
            lambda: local_certified(model, x, eps, box=box),
            lambda: local_certified_radius(model, x, max(eps, 1e-3), steps=2, box=box),
        ):
            with pytest.raises((ValueError, TypeError)) as err:
                call()
            assert len(str(err.value)) > 40, err.value  # a sentence, not a bare failure
            torch.testing.assert_close(x, before, rtol=0, atol=0, equal_nan=True)
        return
    check_model(model, x, eps, box, d.gen)


def _in_ball_and_box(x, eps, box, gen, k: int):
    """``k`` random points of each ball :math:`\\cap` box, float64, shape (N, k, ...)."""
    n = len(x)
    u = torch.randn(n, k, *x.shape[1:], generator=gen, dtype=torch.float64)
    u = u / u.flatten(2).norm(dim=2).view(n, k, *([1] * (x.dim() - 1)))
    r = torch.rand(n, k, *([1] * (x.dim() - 1)), generator=gen, dtype=torch.float64)
    pts = x.double()[:, None] + eps * r ** (1 / x[0].numel()) * u
    if box is not None:  # the projection onto the box never leaves the ball (x is inside)
        pts = pts.clamp(*box)
    return pts


def check_model(model: nn.Module, x: torch.Tensor, eps: float, box, gen) -> None:
    """Every soundness property of one accepted model (AssertionError on a violation)."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    before = x.clone()
    reference = copy.deepcopy(model).double()  # the real-valued network, up to float64
    bound = lipviz.local_lipschitz_bound(model, x, eps, box=box)
    assert bound.sound
    ok = local_certified(model, x, eps, box=box)
    pred = predict(model, x)
    pts = _in_ball_and_box(x, eps, box, gen, 6)
    for i in range(len(x)):
        for p in pts[i, :2]:
            exact = jacobian_norm(reference, p)
            assert exact <= bound.values[i].item() * (1 + 1e-9), (exact, bound.table)
        if ok[i]:
            with torch.no_grad():
                classes = reference(pts[i]).argmax(1)
            assert (classes == pred[i]).all(), (i, classes, pred[i])
    if ok.any():
        xs, ys = x.double()[ok], pred[ok]
        pgd = lipviz.attacks.pgd_l2(reference, xs, ys, eps, steps=20, box=box)
        assert not pgd.success.any(), "PGD broke a local certificate"
    radii = local_certified_radius(model, x, 0.5, steps=4, box=box)
    assert (radii.predicted == pred).all()
    inside = radii.radius.double() > 0
    if inside.any():
        pgd = lipviz.attacks.pgd_l2(
            reference,
            x.double()[inside],
            pred[inside],
            radii.radius.double()[inside],
            steps=20,
            box=box,
        )
        assert not pgd.success.any(), "PGD broke a local certified radius"
    assert torch.equal(x, before)
    after = model.state_dict()
    assert all(torch.equal(state[k], after[k]) for k in state)
    assert not any(m.training for m in model.modules())


def test_the_local_checks_catch_an_unsound_bound(monkeypatch):
    """The fuzzer can fail: masked norms that under-state by 2x are caught."""
    from lipviz.bounds.local import _walk as local

    real = local.masked_norms

    def halved(*args, **kwargs):
        values, method = real(*args, **kwargs)
        return values / 2, method

    monkeypatch.setattr(local, "masked_norms", halved)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 3)).double().eval()
    x = torch.rand(3, 3, dtype=torch.float64)
    with pytest.raises(AssertionError):
        check_model(model, x, 0.3, None, torch.Generator().manual_seed(0))
    monkeypatch.setattr(local, "masked_norms", real)
    check_model(model, x, 0.3, None, torch.Generator().manual_seed(0))


SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "database": None,
}


@settings(max_examples=120, derandomize=True, **SETTINGS)
@given(data=st.data())
def test_fuzz_local_fast(data):
    check_draw(data)


@pytest.mark.slow
@settings(max_examples=int(os.environ.get("LIPVIZ_FUZZ_EXAMPLES", "2000")), **SETTINGS)
@given(data=st.data())
def test_fuzz_local_long(data):
    check_draw(data)
