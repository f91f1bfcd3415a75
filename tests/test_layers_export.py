"""to_plain: every lipviz layer exports to a module without constraint machinery, with the same
outputs and the same sound bound; what cannot be exported is refused."""

import warnings

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

import lipviz
from lipviz.layers import LLN, SOC, OrthogonalLinear
from lipviz.layers.soc import TruncatedExpConv

MODELS = [
    ("toy-mlp", {}, (2,)),
    ("lmt-mnist", {}, (1, 28, 28)),
    ("4c3f", {}, (1, 28, 28)),
    ("mlp", {"hidden": 16}, (1, 28, 28)),
    ("lipconvnet", {"init_channels": 4}, (3, 32, 32)),
    ("lipconvnet", {"init_channels": 4, "last_layer": "soc", "activation": "maxmin"}, (3, 32, 32)),
    ("6c2f", {"activation": "clipped-maxmin"}, (1, 28, 28)),
    ("8c2f", {"activation": "clipped-relu", "input_size": 32, "n_classes": 10}, (3, 32, 32)),
]


def test_every_registered_model_is_covered():
    assert {name for name, _, _ in MODELS} == set(lipviz.available_models())


@pytest.mark.parametrize(("name", "kwargs", "shape"), MODELS, ids=lambda v: str(v))
def test_outputs_and_sound_bound_are_unchanged(name, kwargs, shape, dense_jacobian_norm):
    model = lipviz.create_model(name, **kwargs).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    plain = lipviz.to_plain(model)
    x = torch.rand(3, *shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.allclose(plain(x), model(x), atol=1e-5, rtol=1e-5)
    bound, plain_bound = (lipviz.lipschitz_bound(m, shape).value for m in (model, plain))
    assert plain_bound == pytest.approx(bound, rel=1e-6)
    assert dense_jacobian_norm(plain, x) <= plain_bound * (1 + 1e-6)  # the oracle
    # no constraint machinery left, and the model itself untouched (and still usable)
    for module in plain.modules():
        assert not parametrize.is_parametrized(module)
        assert not isinstance(module, (SOC, LLN)), type(module)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with torch.no_grad():
        model(x)


def test_soc_exports_its_eval_function_with_a_fixed_filter():
    torch.manual_seed(0)
    soc = SOC(3, 6, 3, stride=2).eval()
    plain = soc.to_plain()
    assert isinstance(plain, TruncatedExpConv) and not list(plain.parameters())
    expected = soc.lipschitz_bound((3, 8, 8))
    assert lipviz.layer_bound(plain, (3, 8, 8)).value == expected
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(plain(x), soc(x))
        soc.weight.add_(1.0)  # the export is a snapshot: later edits of the layer do not leak
        assert not torch.allclose(plain(x), soc(x))
    assert lipviz.layer_bound(plain, (3, 8, 8)).value == expected


def test_orthogonal_linear_and_lln_export_to_linear():
    torch.manual_seed(0)
    for layer in (OrthogonalLinear(6, 4).eval(), LLN(6, 4).eval()):
        plain = lipviz.to_plain(nn.Sequential(layer))[0]
        assert type(plain) is nn.Linear
        x = torch.randn(5, 6)
        with torch.no_grad():
            assert torch.allclose(plain(x), layer(x), atol=1e-6)


def test_torch_weight_hooks_are_baked_in():
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecated, still used by old code
        normed = nn.utils.weight_norm(nn.Linear(3, 3))
    net = nn.Sequential(normed, nn.ReLU(), nn.utils.spectral_norm(nn.Linear(3, 2))).eval()
    plain = lipviz.to_plain(net)
    assert not plain[0]._forward_pre_hooks and not plain[2]._forward_pre_hooks
    assert set(dict(plain[0].named_parameters())) == {"weight", "bias"}
    x = torch.randn(4, 3)
    with torch.no_grad():
        assert torch.allclose(plain(x), net(x), atol=1e-6)
    assert type(lipviz.to_plain(nn.Sequential(spectral_norm(nn.Linear(3, 2))))[0]) is nn.Linear


def test_a_module_with_several_hooked_weights_exports_each_with_its_own_value():
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        both = nn.utils.weight_norm(nn.utils.weight_norm(nn.Linear(3, 4), "weight"), "bias")
        last = nn.utils.weight_norm(nn.Linear(4, 2))
    net = nn.Sequential(both, nn.ReLU(), last).eval()
    plain = lipviz.to_plain(net)
    assert plain[0].weight.shape == (4, 3) and plain[0].bias.shape == (4,)
    assert not plain[0]._forward_pre_hooks
    x = torch.randn(6, 3)
    with torch.no_grad():
        assert torch.equal(plain(x), net(x))


def test_what_cannot_be_exported_is_refused():
    class Custom(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(TypeError, match="Custom.*no plain export"):
        lipviz.to_plain(nn.Sequential(nn.Linear(2, 2), Custom()))
    hooked = nn.Linear(2, 2)
    hooked.register_forward_hook(lambda m, i, o: o * 2)
    with pytest.raises(TypeError, match="forward hooks"):
        lipviz.to_plain(nn.Sequential(hooked))
