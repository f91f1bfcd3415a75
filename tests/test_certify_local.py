"""The input contract of the local path (lipviz.certify.local, lipviz.bounds.local): every
certificate holds for every input the API accepts, or the input is refused.

Each case here was reported against the local path and certified wrongly or silently before.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import lipviz
from lipviz.bounds.local import masked_norms
from lipviz.certify import local_certified, local_certified_radius


def _linear(weight, bias, dtype=torch.float32) -> nn.Linear:
    w = torch.tensor(weight, dtype=dtype)
    lin = nn.Linear(w.shape[1], w.shape[0]).to(dtype)
    with torch.no_grad():
        lin.weight.copy_(w)
        lin.bias.copy_(torch.tensor(bias, dtype=dtype))
    return lin.eval()


def _dead_on_the_box() -> nn.Sequential:
    """h = relu(-x - 0.25); f1 - f0 = 0.1 - h: class 0 at x = -0.5 (h = 0.25), class 1 on
    [0, 0.1], where h is dead."""
    return nn.Sequential(
        _linear([[-1.0]], [-0.25]), nn.ReLU(), _linear([[0.0], [-1.0]], [0.0, 0.1])
    ).eval()


def test_an_input_outside_the_box_is_refused():
    net = _dead_on_the_box()
    x = torch.tensor([[-0.5]])
    with torch.no_grad():  # every point of ball (radius 0.6) and box [0, 1] has class 1
        assert net(x).argmax(1).item() == 0
        assert (net(torch.linspace(0, 0.1, 11)[:, None]).argmax(1) == 1).all()
    for call in (
        lambda: local_certified(net, x, 0.6, box=(0, 1)),
        lambda: lipviz.local_lipschitz_bound(net, x, 0.6, box=(0, 1)),
        lambda: local_certified_radius(net, x, 0.6, box=(0, 1)),
    ):
        with pytest.raises(ValueError, match="outside the box"):
            call()
    assert not local_certified(net, x, 0.6)[0]  # without a box: not certified either


@pytest.mark.parametrize("box", [(1, 0), (0, float("nan")), (0, float("inf")), "01", (0,)])
def test_a_malformed_box_is_refused(box):
    net = _dead_on_the_box()
    with pytest.raises(ValueError, match="box must be"):
        local_certified(net, torch.tensor([[0.5]]), 0.1, box=box)


def _boundary_between_float32_and_float64_eps() -> nn.Linear:
    """f1 - f0 = a t + b crosses 0 at t* = -b/a = 0.69999999110, between float32(0.7) =
    0.69999998808 and 0.7."""
    a, b = 1.3400159, -0.9380111
    return _linear([[0.0], [a]], [0.0, b])


def test_eps_is_never_narrowed_to_the_input_dtype():
    net = _boundary_between_float32_and_float64_eps()
    exact = net.double()
    x = torch.zeros(1, 1)
    p = torch.tensor([[0.699999995]], dtype=torch.float64)  # distance < 0.7 from x
    with torch.no_grad():
        assert exact(x.double()).argmax(1).item() == 0 and exact(p).argmax(1).item() == 1
    net = _boundary_between_float32_and_float64_eps()
    assert not local_certified(net, x, 0.7)[0]
    assert not local_certified(net, x, torch.tensor([0.7], dtype=torch.float64))[0]
    assert local_certified(net, x, 0.69)[0]  # the check can pass
    acc = lipviz.certified_accuracy(net, x, torch.tensor([0]), [0.7], method="local")
    assert acc["certified_accuracy"].tolist() == [0.0]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_models_are_refused(dtype):
    net = _boundary_between_float32_and_float64_eps().to(dtype)
    x = torch.zeros(1, 1, dtype=dtype)
    for call in (
        lambda: local_certified(net, x, 0.1),
        lambda: lipviz.local_lipschitz_bound(net, x, 0.1),
        lambda: lipviz.certified_accuracy(net, x, torch.tensor([0]), [0.1], method="local"),
    ):
        with pytest.raises(ValueError, match="fp32 or wider"):
            call()


def test_inputs_wider_than_the_model_and_integer_inputs_are_refused():
    net = _boundary_between_float32_and_float64_eps()
    with pytest.raises(ValueError, match="rounding x would certify other points"):
        local_certified(net, torch.zeros(1, 1, dtype=torch.float64), 0.1)
    with pytest.raises(ValueError, match="floating tensor"):
        local_certified(net, torch.zeros(1, 1, dtype=torch.uint8), 0.1)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_inputs_are_refused(bad):
    net = _dead_on_the_box()
    x = torch.tensor([[0.5], [bad]])
    for call in (
        lambda: lipviz.local_lipschitz_bound(net, x, 0.1),
        lambda: local_certified(net, x, 0.1),
        lambda: local_certified_radius(net, x, 0.1),
    ):
        with pytest.raises(ValueError, match="NaN or inf"):
            call()


def test_the_certified_class_is_the_models_own_prediction():
    """In float32 the two logits tie at x = 1 (argmax 0); the float64 walk sees class 1 ahead
    by 1e-8 everywhere. A radius for class 1 must not be reported for class 0."""
    net = _linear([[1.0], [1.0]], [0.0, 1e-8])
    x = torch.ones(1, 1)
    with torch.no_grad():
        assert net(x).argmax(1).item() == 0
        assert net(torch.tensor([[0.01]])).argmax(1).item() == 1  # at distance 0.99
    cert = local_certified_radius(net, x, 0.999)
    assert cert.predicted.item() == 0
    assert cert.radius.item() < 0.99
    assert not local_certified(net, x, 0.5)[0]


def test_an_in_place_first_layer_never_changes_the_callers_inputs():
    torch.manual_seed(0)
    net = nn.Sequential(nn.ReLU(inplace=True), nn.Linear(3, 2)).eval()
    x = torch.tensor([[-0.5, 0.2, 0.3], [0.1, -0.2, 0.4]])
    before = x.clone()
    for call in (  # refused, as on the global path, and the inputs are left as they were
        lambda: local_certified(net, x, 0.05),
        lambda: lipviz.local_lipschitz_bound(net, x, 0.05),
        lambda: local_certified_radius(net, x, 0.1, steps=3),
        lambda: lipviz.certified_accuracy(net, x, torch.tensor([0, 1]), [0.05], method="local"),
    ):
        with pytest.raises(ValueError, match="in place"):
            call()
        assert torch.equal(x, before)


def test_masked_norms_do_not_cancel_next_to_huge_dead_weights():
    """One fixed input neuron with outgoing weights 1e9 next to live ones of about 1: the
    masked norm is the norm of the live columns, and it must stay an upper bound."""
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(6, 8, generator=gen, dtype=torch.float64)
    w[:, 0] = 1e9
    lin = nn.Linear(8, 6, bias=False).double()
    with torch.no_grad():
        lin.weight.copy_(w)
    cols = torch.ones(1, 8, dtype=torch.bool)
    cols[0, 0] = False
    exact = torch.linalg.matrix_norm(w[:, 1:], 2).item()
    value, _ = masked_norms(lin, (8,), cols, None, sound=True)
    assert exact <= value.item() <= exact * (1 + 1e-9)


def test_a_dead_neuron_with_huge_weights_keeps_the_local_bound_sound(dense_jacobian_norm):
    gen = torch.Generator().manual_seed(1)
    first = nn.Linear(3, 5).double()
    last = nn.Linear(5, 4).double()
    with torch.no_grad():
        first.weight.copy_(torch.randn(5, 3, generator=gen, dtype=torch.float64))
        first.bias.copy_(torch.zeros(5, dtype=torch.float64))
        first.bias[0] = -100.0  # neuron 0 is dead on every small ball
        last.weight.copy_(torch.randn(4, 5, generator=gen, dtype=torch.float64))
        last.weight[:, 0] = 1e9
    net = nn.Sequential(first, nn.ReLU(), last).eval()
    x = torch.rand(3, 3, generator=gen, dtype=torch.float64)
    bound = lipviz.local_lipschitz_bound(net, x, 0.1)
    for i in range(3):  # the exact Jacobian norm at points of each ball
        pts = x[i] + 0.1 * torch.rand(5, 3, generator=gen, dtype=torch.float64) / 3**0.5
        assert dense_jacobian_norm(net, pts) <= bound.values[i].item()
    assert bound.values.max().item() < 100  # the dead column does not enter


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda net, x: local_certified(net, x, 0.1, batch_size=0), "batch_size"),
        (lambda net, x: local_certified(net, x, 0.1, "estimate", n_iter=0), "n_iter"),
        (lambda net, x: local_certified_radius(net, x, 0.1, steps=-1), "steps"),
        (lambda net, x: local_certified(net, x[:0], 0.1), "no inputs"),
        (lambda net, x: local_certified(net, x, -0.1), "eps"),
        (lambda net, x: local_certified(net, x, float("nan")), "eps"),
        (lambda net, x: local_certified(net, x, 36.0), "input units"),
        (lambda net, x: lipviz.certified_accuracy(net, x[:0], [], [0.1]), "no inputs"),
        (
            lambda net, x: lipviz.certified_accuracy(net, x[:0], [], [0.1], method="local"),
            "no inputs",
        ),
    ],
)
def test_bad_arguments_get_a_clear_error(call, match):
    with pytest.raises(ValueError, match=match):
        call(_dead_on_the_box(), torch.tensor([[0.5], [0.25]]))


def test_an_autocast_region_does_not_change_a_local_certificate():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3)).eval()
    x = torch.rand(8, 4)
    plain = lipviz.local_lipschitz_bound(net, x, 0.05, "estimate").values
    ok = local_certified(net, x, 0.05, "estimate")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = lipviz.local_lipschitz_bound(net, x, 0.05, "estimate").values
        assert torch.equal(local_certified(net, x, 0.05, "estimate"), ok)
    assert torch.equal(plain, inside)


def test_a_wrong_input_shape_is_a_clear_error():
    net = _dead_on_the_box()
    with pytest.raises(ValueError, match=r"does not accept inputs of shape \(2, 3\)"):
        local_certified(net, torch.rand(2, 3), 0.1)


def _sum_model(margin: float) -> nn.Sequential:
    """f1 - f0 = margin + 47.5 - sum(relu(x)) on 100 inputs: at x = (0.95 x 50, 0 x 50), class
    1 wins by ``margin``."""
    first = nn.Linear(100, 100, bias=False)
    last = nn.Linear(100, 2)
    with torch.no_grad():
        first.weight.copy_(torch.eye(100))
        last.weight.copy_(torch.stack([torch.ones(100), torch.zeros(100)]))
        last.bias.copy_(torch.tensor([0.0, 47.5 + margin]))
    return nn.Sequential(first, nn.ReLU(), last).eval()


def test_the_last_layer_reaches_the_exact_maximum_over_ball_and_box():
    """In the unit box, the ball B(x, 1) lets sum(x) grow by at most
    2.5 + sqrt(1 - 50 * 0.05^2) * sqrt(50) = 9.114 (the exact maximum over ball ∩ box: 0.05 of
    room on 50 coordinates, the rest of the ball spread over the other 50). The ball's bound
    alone is 10 and the box's 52.5, so a margin of 9.5 is certified only by the exact
    maximum; a margin of 9.0 is not certifiable, and an attack breaks it."""
    x = torch.cat([torch.full((50,), 0.95), torch.zeros(50)])[None]
    exact = 2.5 + math.sqrt(1 - 50 * 0.05**2) * math.sqrt(50)
    assert exact < 9.5 < 10.0
    assert bool(local_certified(_sum_model(9.5), x, 1.0, box=(0.0, 1.0)))
    assert not bool(local_certified(_sum_model(9.0), x, 1.0, box=(0.0, 1.0)))
    # the maximiser: +0.05 on the first 50, +t on the others, |delta| = 1 -> class 0 wins
    t = math.sqrt((1 - 50 * 0.05**2) / 50)
    delta = torch.cat([torch.full((50,), 0.05), torch.full((50,), t)])[None] * (1 - 1e-6)
    with torch.no_grad():
        assert _sum_model(9.0)(x + delta).argmax(1).item() == 0
        assert _sum_model(9.5)(x + delta).argmax(1).item() == 1
