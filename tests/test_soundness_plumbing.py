"""Regression tests for certificates broken through the plumbing (issue 10), one per reproducer,
and for the walker's refusals. Each sound case is checked against the exact Jacobian norm or
the exact distance to the decision boundary."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from torch import nn

import lipviz
from lipviz.certify import Certifier, certified_accuracy, certified_radius
from lipviz.exact import exact_operator_norm
from lipviz.layers import Concat, Residual


def jacobian_norm(model: nn.Module, x: torch.Tensor) -> float:
    """The exact spectral norm of the Jacobian of ``model`` at one input (float64)."""
    from torch.func import jacrev

    jac = jacrev(lambda v: model(v[None]).flatten())(x)
    return float(torch.linalg.matrix_norm(jac.detach().reshape(jac.shape[0], -1).double(), 2))


# --- 1. a module instance used twice -------------------------------------------------------


def test_weight_tying_counts_every_use():
    lin = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        lin.weight.copy_(3 * torch.eye(2))
    net = nn.Sequential(lin, nn.ReLU(), lin)
    bound = lipviz.lipschitz_bound(net, (2,))
    assert bound.value == pytest.approx(9.0)
    assert bound.table["shared"].sum() == 2  # both uses are rows, flagged as shared
    assert jacobian_norm(net, torch.tensor([1.0, 2.0])) == pytest.approx(9.0)


def test_weight_tying_certificate_is_not_broken():
    torch.manual_seed(0)
    lin = nn.Linear(2, 2)
    net = nn.Sequential(lin, nn.Tanh(), lin, nn.Tanh(), nn.Linear(2, 2))
    x = torch.randn(64, 2)
    cert = certified_radius(net, x)
    attack = lipviz.attacks.pgd_l2(net, x, cert.predicted, cert.radius, box=None, restarts=3)
    assert not attack.success.any()


# --- 2. average pooling on sides shorter than the window --------------------------------------


@pytest.mark.parametrize(
    ("pool", "shape"),
    [
        (nn.AvgPool2d(3, 1, 1, count_include_pad=False), (1, 1, 8)),
        (nn.AvgPool2d(3, 2, 1, count_include_pad=False, ceil_mode=True), (2, 2, 5)),
        (nn.AvgPool2d(2, 2, 1, ceil_mode=True), (1, 3, 4)),
        (nn.AvgPool2d(2, divisor_override=3), (1, 4, 6)),
        (nn.AdaptiveAvgPool2d((3, 2)), (1, 7, 5)),
        (nn.MaxPool2d(3, 1, 1), (1, 1, 8)),
        (nn.MaxPool2d(3, 2, 1, dilation=2, ceil_mode=True), (1, 6, 7)),
    ],
)
def test_pooling_bounds_hold_on_every_grid(pool, shape):
    bound = lipviz.lipschitz_bound(pool, shape).value
    if isinstance(pool, nn.MaxPool2d):  # piecewise linear: check the Jacobian at random points
        exact = max(jacobian_norm(pool, torch.randn(shape)) for _ in range(20))
    else:
        exact = exact_operator_norm(pool, shape)
        assert bound == pytest.approx(exact, rel=1e-9)  # the average-pooling rules are exact
    assert bound >= exact * (1 - 1e-9)


# --- 3. weights computed by pre-forward hooks ------------------------------------------------


def _weight_norm(module):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecated, still used by old code
        return nn.utils.weight_norm(module)


@pytest.mark.parametrize("wrap", [_weight_norm, nn.utils.spectral_norm])
def test_hook_computed_weights_are_read_fresh(wrap):
    torch.manual_seed(0)
    lin = wrap(nn.Linear(3, 3, bias=False))
    net = nn.Sequential(nn.Flatten(), lin).eval()
    x = torch.randn(8, 3)
    net(x)  # the hook caches the weight of this moment in lin.weight
    with torch.no_grad():
        for name, p in lin.named_parameters():
            p.add_(torch.randn_like(p) * (10 if name.endswith("_g") else 1))
    fresh = nn.Linear(3, 3, bias=False)
    with torch.no_grad():
        fresh.weight.copy_(lipviz.bounds.guards.current_weight(lin))
        assert not torch.allclose(fresh.weight, lin.weight)  # lin.weight is stale
    assert lipviz.lipschitz_bound(net, (3,)).value == pytest.approx(
        exact_operator_norm(fresh, (3,)), rel=1e-9
    )
    cert = certified_radius(net, x)  # pairwise form: the rows of the fresh weight
    with torch.no_grad():
        logits = x @ fresh.weight.T
    pred = logits.argmax(1)
    for i in range(len(x)):
        w = fresh.weight.detach()
        gaps = [
            float((logits[i, pred[i]] - logits[i, j]) / (w[pred[i]] - w[j]).norm())
            for j in range(3)
            if j != pred[i]
        ]
        assert float(cert.radius[i]) <= min(gaps) * (1 + 1e-5)  # the exact distance


def test_unknown_hooks_are_refused():
    lin = nn.Linear(2, 2)
    handle = lin.register_forward_hook(lambda m, i, o: 10 * o)
    with pytest.raises(TypeError, match="forward hooks"):
        lipviz.lipschitz_bound(nn.Sequential(lin), (2,))
    handle.remove()
    handle = lin.register_forward_pre_hook(lambda m, i: (10 * i[0],))
    with pytest.raises(TypeError, match="pre-hooks"):
        lipviz.lipschitz_bound(nn.Sequential(nn.ReLU(), lin), (2,))
    with pytest.raises(TypeError, match="pre-hooks"):
        Certifier(nn.Sequential(nn.ReLU(), lin), (2,))
    handle.remove()
    handle = nn.modules.module.register_module_forward_hook(lambda m, i, o: o)
    try:
        with pytest.raises(TypeError, match="global module forward hooks"):
            lipviz.lipschitz_bound(lin, (2,))
    finally:
        handle.remove()
    lipviz.lipschitz_bound(lin, (2,))  # fine again without hooks


# --- 4. residual branches that broadcast -----------------------------------------------------


@pytest.mark.parametrize(
    "branch", [nn.AdaptiveAvgPool2d(1), nn.Conv2d(4, 1, 1), nn.Sequential(nn.AvgPool2d(2))]
)
def test_broadcasting_residual_is_refused(branch):
    with pytest.raises(ValueError, match="broadcasting"):
        lipviz.lipschitz_bound(Residual(branch), (4, 4, 4))


def test_residual_of_equal_shapes_is_sound():
    torch.manual_seed(0)
    block = Residual(nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.ReLU()), nn.Conv2d(2, 2, 1))
    bound = lipviz.lipschitz_bound(block, (2, 4, 4)).value
    assert bound >= jacobian_norm(block, torch.randn(2, 4, 4)) * (1 - 1e-6)


# --- 5. certificates must not change the model's modes or state --------------------------------


def test_certifier_keeps_every_module_mode():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3)
    )
    net.train()
    net(torch.rand(16, 1, 4, 4))  # some running statistics
    net.eval()
    Certifier(net, (1, 4, 4))
    assert not any(m.training for m in net.modules())
    net.train()
    net[1].eval()  # a mixed state comes back as it was
    Certifier(net, (1, 4, 4))(torch.rand(3, 1, 4, 4))
    assert [m.training for m in net] == [True, False, True, True, True]


def test_a_certifier_refuses_a_model_changed_since():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 2))
    cert = Certifier(net, (2,))
    x = torch.randn(5, 2)
    cert(x)
    with torch.no_grad():
        net[0].weight.data.mul_(10)  # not seen by autograd's version counter
    with pytest.raises(RuntimeError, match="changed since"):
        cert(x)
    bound = lipviz.lipschitz_bound(net, (2,))
    with torch.no_grad():
        net[2].bias.add_(1)
    with pytest.raises(ValueError, match="other weights"):
        Certifier(net, (2,), form="global", bound=bound)


# --- 6. certified accuracy: label shapes and the boundary ---------------------------------------


def test_certified_accuracy_refuses_column_labels(linear_classifier):
    model, x, y, _ = linear_classifier
    with pytest.raises(ValueError, match="labels must have shape"):
        certified_accuracy(model, x, y[:, None], [0.0, 0.1])
    with pytest.raises(ValueError, match="integer"):
        certified_accuracy(model, x, y.float(), [0.1])


def test_a_radius_equal_to_eps_is_not_certified():
    lin = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))
    x, y = torch.tensor([[0.5, 0.0]]), torch.tensor([0])
    r = float(certified_radius(lin, x).radius[0])
    frame = certified_accuracy(lin, x, y, [0.0, r * 0.999, r])
    assert frame["certified_accuracy"].tolist() == [1.0, 1.0, 0.0]


# --- the walker's other refusals ----------------------------------------------------------------


class DoubledLinear(nn.Linear):
    def forward(self, x):
        return 2 * super().forward(x)


class ShiftedConv(nn.Conv2d):
    def _conv_forward(self, x, weight, bias):
        return super()._conv_forward(3 * x, weight, bias)


class SkipSequential(nn.Sequential):
    def forward(self, x):
        return x + super().forward(x)


class QuietLinear(nn.Linear):  # overrides nothing that computes: accepted with Linear's rule
    def extra_repr(self) -> str:
        return "quiet"


@pytest.mark.parametrize(
    ("model", "shape"),
    [
        (nn.Sequential(DoubledLinear(2, 2)), (2,)),
        (ShiftedConv(1, 1, 3), (1, 4, 4)),
        (SkipSequential(nn.Linear(2, 2)), (2,)),
    ],
)
def test_subclasses_overriding_a_registered_type_are_refused(model, shape):
    with pytest.raises(TypeError, match="overrides"):
        lipviz.lipschitz_bound(model, shape)


def test_subclasses_that_compute_the_same_are_accepted():
    torch.manual_seed(0)
    net = nn.Sequential(QuietLinear(2, 3), nn.ReLU(), lipviz.layers.LLN(3, 2))
    assert lipviz.lipschitz_bound(net, (2,)).sound


def test_in_place_aliasing_of_a_shortcut_is_refused():
    # forward: 2 * leaky(x), Lipschitz 10, while the sum rule would claim 5 + 1
    block = Residual(nn.LeakyReLU(5.0, inplace=True))
    with pytest.raises(ValueError, match="in place"):
        lipviz.lipschitz_bound(block, (3,))
    cat = Concat(nn.Sequential(nn.Identity(), nn.ReLU(inplace=True)), nn.Identity())
    with pytest.raises(ValueError, match="in place"):
        lipviz.lipschitz_bound(cat, (3,))
    with pytest.raises(ValueError, match="in place"):  # the caller's input would change
        lipviz.lipschitz_bound(nn.Sequential(nn.ReLU(inplace=True), nn.Linear(3, 2)), (3,))
    ok = nn.Sequential(nn.Linear(3, 3), nn.ReLU(inplace=True), nn.Linear(3, 2))
    assert lipviz.lipschitz_bound(Residual(ok, nn.Linear(3, 2)), (3,)).sound


def test_batch_mixing_and_self_changing_modules_are_refused():
    from lipviz.bounds import LayerBound, register_bound

    class BatchMean(nn.Module):
        def forward(self, x):
            return x - x.mean(0, keepdim=True)

    class Counter(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("calls", torch.zeros(()))

        def forward(self, x):
            self.calls += 1
            return x

    for cls in (BatchMean, Counter):
        register_bound(cls)(lambda m, ctx: LayerBound(1.0, "test", True))
    with pytest.raises(RuntimeError, match="batch"):
        lipviz.lipschitz_bound(nn.Sequential(nn.Linear(2, 2), BatchMean()), (2,))
    with pytest.raises(RuntimeError, match="changed during"):
        lipviz.lipschitz_bound(nn.Sequential(nn.Linear(2, 2), Counter()), (2,))
    with pytest.raises(ValueError, match="batch dimension"):
        lipviz.lipschitz_bound(Concat(nn.Identity(), nn.Identity(), dim=0), (2,))
    with pytest.raises(ValueError, match="batch dimension"):
        lipviz.lipschitz_bound(nn.Flatten(0), (2, 3))


# --- precision ------------------------------------------------------------------------------


def test_float64_models_are_certified_in_float64():
    lin = nn.Linear(2, 2).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]))
        lin.bias.fill_(1e3)  # large logits: a float32 margin would be lost in rounding
    x = torch.tensor([[1e-9, 0.0]], dtype=torch.float64)
    cert = certified_radius(lin, x)
    assert cert.radius.dtype == torch.float64
    assert float(cert.radius[0]) == pytest.approx(1e-9, rel=1e-6)  # the exact distance
    assert float(certified_radius(lin, x.float()).radius[0]) > 0  # widened exactly
    with pytest.raises(ValueError, match="rounding x"):
        certified_radius(nn.Linear(2, 2), x)


def test_row_distances_are_exact_for_close_rows():
    from lipviz.functional import row_distances

    gen = torch.Generator().manual_seed(0)
    base = 1e4 * torch.randn(64, generator=gen, dtype=torch.float64)
    w = base + 1e-3 * torch.randn(30, 64, generator=gen, dtype=torch.float64)
    exact = torch.tensor(
        [[math.dist(a.tolist(), b.tolist()) for b in w] for a in w], dtype=torch.float64
    )
    assert torch.allclose(row_distances(w), exact, rtol=1e-9, atol=0)
    approx = torch.cdist(w, w)  # the matrix-product shortcut cancels catastrophically here
    assert not torch.allclose(approx, exact, rtol=1e-6, atol=0)


def test_soc_eval_cache_follows_load_state_dict():
    from lipviz.layers import SOC

    torch.manual_seed(0)
    a, b = SOC(2, 2, 3).eval(), SOC(2, 2, 3).eval()
    with torch.no_grad():
        b.weight.mul_(-1.0)
    x = torch.randn(1, 2, 5, 5)
    a(x)  # fills the eval cache
    a.load_state_dict(b.state_dict())
    assert torch.allclose(a(x), b(x), atol=1e-6)
