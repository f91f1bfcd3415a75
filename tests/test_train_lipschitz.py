"""The training-time estimate walks the model with the sound bound's walker (one walker)."""

import pytest
import torch
from torch import nn

import lipviz
from lipviz.bounds import lipschitz_bound
from lipviz.exact import exact_operator_norm
from lipviz.layers import Concat, Residual
from lipviz.train import (
    PowerIterationBound,
)


def _blocks_model():
    torch.manual_seed(3)
    return nn.Sequential(
        nn.Linear(4, 6),
        nn.ReLU(),
        Concat(nn.Linear(6, 3), nn.Sequential(nn.Linear(6, 2), nn.Tanh())),
        Residual(nn.Linear(5, 5)),
        nn.Linear(5, 3),
    )


def test_concat_and_residual_compose_as_in_the_sound_bound():
    """Converged persistent vectors give the exact norms of dense layers, so the estimate meets
    the sound bound (exact SVDs composed by the same rules): product, sum, root of squares."""
    model = _blocks_model()
    lip = PowerIterationBound(model, (4,)).train()
    for _ in range(400):
        total, sigmas = lip()
    assert len(sigmas) == 5
    sound = lipschitz_bound(model, (4,)).value
    assert float(total.detach()) == pytest.approx(sound, rel=1e-5)


def test_the_estimate_is_differentiable_in_every_weight_it_reads():
    model = _blocks_model()
    total, _ = PowerIterationBound(model, (4,))()
    total.backward()
    for name, p in model.named_parameters():
        if name.endswith("weight"):
            assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_conv_batchnorm_pairs_are_one_operator_as_in_the_sound_bound():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU())
    with torch.no_grad():
        model[1].running_var.uniform_(0.2, 3.0)
        model[1].weight.uniform_(0.5, 2.0)
    lip = PowerIterationBound(model, (2, 5, 5)).train()
    for _ in range(300):
        total, sigmas = lip()
    assert len(sigmas) == 1  # the fused map, not conv and BN apart
    sound = lipschitz_bound(model, (2, 5, 5))
    assert "fused" in sound.table["method"].iloc[0]
    exact = exact_operator_norm(model[:2], (2, 5, 5))  # BN(conv(x)) is affine: its Jacobian
    assert float(total.detach()) == pytest.approx(exact, rel=1e-4)
    assert exact <= sound.value * (1 + 1e-9)


def test_refusals_are_the_sound_walkers():
    class Mystery(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(TypeError, match="No Lipschitz bound rule"):
        PowerIterationBound(nn.Sequential(nn.Linear(2, 2), Mystery()), (2,))
    lin = nn.Linear(3, 3)
    lin.register_forward_hook(lambda m, i, o: 2 * o)
    with pytest.raises(TypeError, match="forward hooks"):
        PowerIterationBound(nn.Sequential(lin), (3,))


def test_power_iteration_bound_converges_from_below_and_is_frozen_in_eval():
    model = lipviz.models.create("lmt-mnist", seed=1)
    lip = PowerIterationBound(model, (1, 28, 28))
    sound = lipschitz_bound(model, (1, 28, 28))
    lip.train()
    values = [lip()[0].item() for _ in range(60)]
    assert values[-1] > values[0]
    # the sound bound of every layer is >= the converged estimate (stride-2 convs are near-exact)
    assert values[-1] <= sound.value * (1 + 1e-6)
    assert values[-1] >= 0.9 * sound.value
    lip.eval()
    before = {k: v.clone() for k, v in lip.state_dict().items()}
    for _ in range(100):
        lip()
    assert all(torch.equal(before[k], v) for k, v in lip.state_dict().items())
