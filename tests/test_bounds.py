"""Lipschitz bounds: oracle tests against the exact Jacobian SVD, composition, errors."""

import pytest
import torch
from conftest import jacobian_norm
from torch import nn

import lipviz
from lipviz.bounds import layer_bound, lipschitz_bound, register_bound
from lipviz.functional import power_iteration, spectral_norm_exact


@pytest.mark.parametrize("shape", [(3, 5), (7, 2), (4, 4)], ids=str)
def test_linear_sound_bound_equals_jacobian_norm(shape):
    lin = nn.Linear(shape[1], shape[0])
    exact = jacobian_norm(lin, torch.randn(shape[1]))
    lb = layer_bound(lin, (shape[1],), "sound")
    assert lb.sound and lb.value == pytest.approx(exact, rel=1e-6)


def test_power_iteration_underestimates_and_converges():
    w = torch.randn(30, 20, dtype=torch.float64)
    exact = float(spectral_norm_exact(w))
    errs = []
    for n in (1, 3, 10, 100):
        sigma, _ = power_iteration(w, n_iter=n)
        assert float(sigma) <= exact * (1 + 1e-12)
        errs.append(exact - float(sigma))
    assert errs[-1] < 1e-6 * exact
    assert errs[0] >= errs[-1]
    est = layer_bound(nn.Linear(20, 30), (20,), "estimate")
    assert not est.sound


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        (nn.ReLU(), 1.0),
        (nn.Tanh(), 1.0),
        (nn.Sigmoid(), 0.25),
        (nn.LeakyReLU(0.1), 1.0),
        (nn.LeakyReLU(2.0), 2.0),
        (nn.Identity(), 1.0),
        (nn.Flatten(), 1.0),
        (nn.Dropout(0.5), 1.0),
    ],
    ids=lambda m: type(m).__name__ if isinstance(m, nn.Module) else str(m),
)
def test_activation_rules_bound_the_jacobian(module, expected):
    module.eval()
    assert layer_bound(module, (6,), "sound").value == expected
    worst = max(jacobian_norm(module, x) for x in torch.randn(50, 6) * 2)
    assert worst <= expected + 1e-6


def test_normalize_rule():
    norm = lipviz.Normalize([0.1, 0.2], [0.5, 0.25])
    assert layer_bound(norm, (2, 3, 3)).value == pytest.approx(4.0)


def random_mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        lipviz.Normalize([0.5], [0.3]),
        nn.Flatten(),
        nn.Linear(16, 12),
        nn.ReLU(),
        nn.Sequential(nn.Linear(12, 12), nn.Tanh()),
        nn.Linear(12, 3),
    )


def test_network_bound_is_sound_on_jacobians_and_random_pairs():
    model = random_mlp().eval()
    bound = lipschitz_bound(model, (1, 4, 4))
    assert bound.sound and bound.mode == "sound"
    assert len(bound.table) == 7  # nested Sequential flattened
    assert bound.value == pytest.approx(bound.table.bound.prod())
    worst_jac = max(jacobian_norm(model, x) for x in torch.rand(100, 1, 4, 4))
    assert worst_jac <= bound.value
    x1, x2 = torch.rand(500, 1, 4, 4), torch.rand(500, 1, 4, 4)
    with torch.no_grad():
        ratio = (model(x1) - model(x2)).norm(dim=1) / (x1 - x2).flatten(1).norm(dim=1)
    assert float(ratio.max()) <= bound.value


def test_estimate_mode_is_labelled_and_not_above_sound():
    model = random_mlp()
    est = lipschitz_bound(model, (1, 4, 4), mode="estimate")
    sound = lipschitz_bound(model, (1, 4, 4), mode="sound")
    assert est.mode == "estimate" and not est.sound
    assert est.value <= sound.value * (1 + 1e-9)


def test_bound_does_not_change_training_mode():
    model = random_mlp().train()
    lipschitz_bound(model, (1, 4, 4))
    assert model.training


def test_unknown_module_is_an_error_naming_it():
    class Mystery(nn.Module):
        def forward(self, x):
            return 3 * x

    with pytest.raises(TypeError, match="Mystery"):
        lipschitz_bound(nn.Sequential(nn.Linear(2, 2), Mystery()), (2,))


def test_register_bound_for_a_new_layer():
    class Double(nn.Module):
        def forward(self, x):
            return 2 * x

    @register_bound(Double)
    def _double(module, ctx):
        return lipviz.bounds.LayerBound(2.0, "2", True)

    assert lipschitz_bound(nn.Sequential(Double(), Double()), (3,)).value == 4.0


def test_bad_arguments():
    model = random_mlp()
    with pytest.raises(ValueError, match="mode"):
        lipschitz_bound(model, (1, 4, 4), mode="exactish")
    with pytest.raises(ValueError, match="input_shape"):
        lipschitz_bound(model, (0, 4, 4))
    with pytest.raises(ValueError, match="input_shape"):
        lipschitz_bound(model, 16)
    with pytest.raises(ValueError, match="last dim"):
        layer_bound(nn.Linear(3, 2), (4,))
    with pytest.raises(ValueError, match="matrix"):
        spectral_norm_exact(torch.ones(2, 2, 2))


def test_a_rule_with_the_old_signature_is_refused_at_registration():
    class Half(nn.Module):
        def forward(self, x):
            return x / 2

    with pytest.raises(TypeError, match=r"rule\(module, ctx\)"):
        register_bound(Half)(lambda module, in_shape, mode, n_iter: None)


def test_every_layers_own_bound_has_the_one_signature():
    """``lipschitz_bound(self, in_shape=None, *, ...)`` on every lipviz module class that has one
    (lipviz.bounds.SelfBounded); keyword-only extras (SOC's ``terms``) are allowed."""
    import inspect

    import lipviz.data
    import lipviz.layers
    from lipviz.bounds import SelfBounded

    classes = {
        obj
        for mod in (lipviz.layers, lipviz.data)
        for obj in vars(mod).values()
        if inspect.isclass(obj)
        and issubclass(obj, torch.nn.Module)
        and "lipschitz_bound" in dir(obj)
    }
    assert {"SOC", "GroupSort", "Normalize", "OrthogonalLinear"} <= {c.__name__ for c in classes}
    for cls in classes:
        params = list(inspect.signature(cls.lipschitz_bound).parameters.values())
        positional = [p for p in params if p.kind is not inspect.Parameter.KEYWORD_ONLY]
        assert [p.name for p in positional] == ["self", "in_shape"], cls
        assert positional[1].default is None, cls
        assert all(p.default is not inspect.Parameter.empty for p in params[2:]), cls
    assert isinstance(lipviz.layers.GroupSort(2), SelfBounded)
    with pytest.raises(ValueError, match="pass in_shape"):
        lipviz.layers.SOC(2, 2).lipschitz_bound()
