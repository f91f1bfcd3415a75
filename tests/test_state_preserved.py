"""Every public bound, certificate, attack and audit call leaves the model exactly as it was:
each module's mode, every parameter and buffer, gradients and requires_grad flags, and the
caller's inputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import lipviz
from lipviz import attacks, auditing
from lipviz.bounds.compare import compare_estimators
from lipviz.exact import local_jacobian_norms
from lipviz.layers import SOC, MaxMin, Residual
from lipviz.viz import compute


def _snapshot(model: nn.Module, x: torch.Tensor) -> dict:
    params = list(model.named_parameters())
    return {
        "state": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "modes": [(n, m.training) for n, m in model.named_modules()],
        "grads": [(n, p.grad if p.grad is None else p.grad.clone()) for n, p in params],
        "requires_grad": [(n, p.requires_grad) for n, p in params],
        "x": x.clone(),
    }


def _assert_same(before: dict, after: dict) -> None:
    assert before["modes"] == after["modes"]
    assert before["requires_grad"] == after["requires_grad"]
    assert before["state"].keys() == after["state"].keys()
    for k, v in before["state"].items():
        assert torch.equal(v, after["state"][k]), k
    for (n, g), (_, h) in zip(before["grads"], after["grads"], strict=True):
        assert (g is None and h is None) or torch.equal(g, h), n
    assert torch.equal(before["x"], after["x"])


def _conv_net() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(
        lipviz.Normalize([0.5], [0.25]),
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        Residual(nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU())),
        nn.MaxPool2d(2),
        nn.Dropout(0.2),
        nn.Flatten(),
        nn.Linear(16, 3),
    )
    net.train()
    net(torch.rand(32, 1, 4, 4))  # running statistics away from their defaults
    net[6].eval()  # a mixed state must survive too
    return net


def _soc_net() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(SOC(2, 4, 3), MaxMin(), nn.Flatten(), nn.Linear(4 * 16, 3)).train()
    net(torch.rand(4, 2, 4, 4))
    return net


CALLS = {
    "lipschitz_bound": lambda m, x, y: lipviz.lipschitz_bound(m, x.shape[1:]),
    "lipschitz_bound estimate": lambda m, x, y: lipviz.lipschitz_bound(
        m, x.shape[1:], mode="estimate", n_iter=5
    ),
    "certified_radius": lambda m, x, y: lipviz.certified_radius(m, x),
    "certified_radius global": lambda m, x, y: lipviz.certified_radius(m, x, form="global"),
    "Certifier": lambda m, x, y: lipviz.Certifier(m, x.shape[1:])(x),
    "certified_accuracy": lambda m, x, y: lipviz.certified_accuracy(m, x, y, [0.0, 0.01]),
    "pgd_l2": lambda m, x, y: attacks.pgd_l2(m, x, y, 0.1, steps=3, restarts=2),
    "minimal_l2": lambda m, x, y: attacks.minimal_l2(m, x, y, steps=3),
    "local_jacobian_norms": lambda m, x, y: local_jacobian_norms(m, x, n_iter=3),
    "empirical_lipschitz": lambda m, x, y: auditing.empirical_lipschitz(m, x, steps=3),
    "tightness": lambda m, x, y: auditing.tightness(m, x, y, steps=3),
    "audit": lambda m, x, y: lipviz.audit(m, x, y, restarts=1, steps=3, lipschitz_steps=2),
    "to_plain": lambda m, x, y: lipviz.to_plain(m),
    "correct_radii": lambda m, x, y: compute.correct_radii(m, x, y),
}


@pytest.mark.parametrize("build", [_conv_net, _soc_net], ids=["conv-bn-residual", "soc"])
@pytest.mark.parametrize("call", list(CALLS), ids=list(CALLS))
def test_public_calls_leave_the_model_untouched(build, call):
    model = build()
    gen = torch.Generator().manual_seed(1)
    in_shape = (1, 4, 4) if build is _conv_net else (2, 4, 4)
    x = torch.rand((6, *in_shape), generator=gen)
    y = torch.randint(0, 3, (6,), generator=gen)
    before = _snapshot(model, x)
    CALLS[call](model, x, y)
    _assert_same(before, _snapshot(model, x))


def test_planar_references_keep_every_module_mode():
    from lipviz.exact.planar import boundary_distance, decision_grid

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(2, 8), nn.Dropout(0.5), nn.ReLU(), nn.Linear(8, 2)).train()
    net[1].eval()
    x = torch.rand(3, 2)
    before = _snapshot(net, x)
    decision_grid(net, (-1, 1, -1, 1), resolution=8)
    boundary_distance(net, x, n_directions=8, n_steps=10, n_bisect=3)
    _assert_same(before, _snapshot(net, x))


def test_the_training_time_estimate_keeps_the_model_as_it_was():
    from lipviz.train.lipschitz import PowerIterationBound

    net = _conv_net()
    x = torch.rand(2, 1, 4, 4)
    before = _snapshot(net, x)
    PowerIterationBound(net, (1, 4, 4))
    _assert_same(before, _snapshot(net, x))


def test_layer_level_estimators_leave_the_layer_untouched():
    conv = nn.Conv2d(2, 3, 3, padding=1).train()
    before = _snapshot(conv, torch.zeros(1))
    compare_estimators(conv, (2, 5, 5), n_iter=(1, 3))
    lipviz.bounds.layer_bound(conv, (2, 5, 5))
    _assert_same(before, _snapshot(conv, torch.zeros(1)))


@pytest.mark.parametrize("name", ["toy-mlp", "lmt-mnist", "4c3f", "lipconvnet"])
def test_model_builders_leave_the_global_rng_alone(name):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    a = lipviz.models.create(name, seed=7)
    assert torch.equal(torch.rand(3), expected)  # the caller's stream goes on as if untouched
    b = lipviz.models.create(name, seed=7)
    c = lipviz.models.create(name, seed=8)
    pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


def test_trainer_fit_leaves_the_global_rng_alone():
    from lipviz.train import CrossEntropy, TrainConfig, Trainer

    toy = lipviz.make_toy("moons", n=64, seed=0)
    net = lipviz.models.create("toy-mlp", hidden=8, depth=1)
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    Trainer(net, CrossEntropy(), TrainConfig(epochs=1, augment="none"), (2,), progress=False).fit(
        toy, toy
    )
    assert torch.equal(torch.rand(3), expected)
