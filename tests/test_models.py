"""Named model builders (lipviz.models): shapes, registry, sound bounds."""

import pytest
import torch

import lipviz
from lipviz.bounds import lipschitz_bound
from lipviz.models import available, create


@pytest.mark.parametrize(
    ("name", "params"), [("lmt-mnist", 166406), ("4c3f", 1974762), ("mlp", 118282)]
)
def test_named_models(name, params):
    model = lipviz.models.create(name)
    assert sum(p.numel() for p in model.parameters()) == params
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    assert isinstance(model[0], lipviz.Normalize)
    assert lipschitz_bound(model, (1, 28, 28)).sound


def test_models_registry():
    assert "toy-mlp" in available()
    with pytest.raises(ValueError, match="Available"):
        create("resnet-9000")
    with pytest.raises(ValueError, match="depth"):
        create("toy-mlp", depth=0)
    with pytest.raises(ValueError, match="hidden"):
        create("mlp", hidden=0)


def test_lipconvnet_shapes_and_sound_bound():
    model = lipviz.models.create("lipconvnet", depth=5, init_channels=4).eval()
    x = torch.rand(2, 3, 32, 32)
    assert model(x).shape == (2, 10)
    bound = lipviz.lipschitz_bound(model, (3, 32, 32))
    assert bound.sound
    t = bound.table
    # orthogonal layers at 12 eval terms: each SOC is 1 up to the truncation term
    assert (t[t.type == "SOC"].bound <= 1 + 1e-6).all()
    assert t.bound.iloc[0] == pytest.approx(1 / min(lipviz.data.CIFAR10_STD))
    cert = lipviz.certified_radius(model, x)
    assert cert.form == "pairwise" and cert.lipschitz == pytest.approx(t.bound.iloc[:-1].prod())
    soc_last = lipviz.models.create("lipconvnet", depth=5, init_channels=4, last_layer="soc")
    assert soc_last.eval()(x).shape == (2, 10)
    assert lipviz.certified_radius(soc_last, x).form == "global"
    hh2 = lipviz.models.create("lipconvnet", depth=5, init_channels=4, activation="hh2")
    assert hh2.eval()(x).shape == (2, 10)
    with pytest.raises(ValueError, match="depth"):
        lipviz.models.create("lipconvnet", depth=7)


@pytest.mark.parametrize("name", ["4c3f", "6c2f"])
@pytest.mark.parametrize("activation", ["relu", "clipped-relu", "maxmin", "clipped-maxmin"])
def test_local_lip_families_build_for_mnist_by_default(name, activation):
    model = lipviz.create_model(name, activation=activation).eval()
    with torch.no_grad():
        assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    kinds = {type(m).__name__ for m in model.modules()}
    expected = {
        "relu": "ReLU",
        "clipped-relu": "ClippedReLU",
        "maxmin": "MaxMin",
        "clipped-maxmin": "ClippedMaxMin",
    }[activation]
    assert expected in kinds


def test_unknown_activation_is_refused():
    with pytest.raises(ValueError, match="activation must be one of"):
        lipviz.create_model("4c3f", activation="gelu")


def test_local_lip_models_start_as_the_reference_code():
    """Thresholds at ``threshold`` (ReLU_x's 1.0 by default), convolutions
    N(0, 2 / (k^2 c_out)) with zero biases under ``init="local-lip"`` (``utils.py`` of the
    reference code), PyTorch's default otherwise."""
    from lipviz.layers import ClippedReLU

    net = lipviz.models.create(
        "4c3f", activation="clipped-relu", normalize=None, init="local-lip", seed=3
    )
    thetas = [m.theta for m in net if isinstance(m, ClippedReLU)]
    assert len(thetas) == 6 and all(bool((t == 1.0).all()) for t in thetas)
    convs = [m for m in net if isinstance(m, torch.nn.Conv2d)]
    for conv in convs[1:]:  # >= 16k weights each: the sample std is within 2 %
        k, out = conv.kernel_size[0], conv.out_channels
        std = (2.0 / (k * k * out)) ** 0.5
        assert abs(float(conv.weight.detach().std()) / std - 1) < 0.02
        assert bool((conv.bias == 0).all())
    plain = lipviz.models.create("4c3f", activation="clipped-relu", normalize=None, threshold=2.0)
    assert bool((plain[1].theta == 2.0).all()) and bool((plain[0].bias != 0).any())
    with pytest.raises(ValueError, match="init"):
        lipviz.models.create("4c3f", init="he")
