"""Randomised smoothing: the radius against the exact one of a linear classifier (where g = f),
abstention at ties, the Clopper-Pearson bound's coverage, the input contract."""

import math
import statistics

import pytest
import torch
from torch import nn

from lipviz import smoothed_certify


def _linear(w=(1.0, -2.0), b=0.3):
    net = nn.Linear(2, 2)
    with torch.no_grad():
        net.weight.copy_(torch.tensor([list(w), [-v for v in w]]) / 2)
        net.bias.copy_(torch.tensor([b / 2, -b / 2]))
    return net, torch.tensor(w, dtype=torch.float64), b


def test_a_linear_classifier_is_certified_up_to_its_distance_and_not_beyond():
    """For f(x) = sign(w.x + b) the smoothed classifier is f itself and p_A is
    Phi(|w.x + b| / (sigma |w|)): its exact radius is the distance to the boundary."""
    net, w, b = _linear()
    x = torch.rand(20, 2, generator=torch.Generator().manual_seed(0))
    distance = (x.double() @ w + b).abs() / w.norm()
    cert = smoothed_certify(net, x, 0.5, n=4000, alpha=0.001)
    decided = cert.predicted >= 0
    assert bool((cert.radius <= distance + 1e-12).all())
    assert bool((cert.radius[~decided] == 0).all())
    with torch.no_grad():
        assert bool((cert.predicted[decided] == net(x[decided]).argmax(1)).all())
    far = distance > 0.3
    assert bool((cert.radius[far] > 0.7 * distance[far]).all())
    assert "probabilistic" in cert.kind and "0.999" in cert.kind


def test_a_tie_abstains_and_the_noise_is_seeded():
    net, w, b = _linear(b=0.0)
    x = torch.zeros(2, 2)
    state = torch.get_rng_state()
    a = smoothed_certify(net, x, 0.5, n=500, seed=3)
    assert torch.equal(state, torch.get_rng_state())  # the caller's RNG is untouched
    assert a.predicted.tolist() == [-1, -1] and a.radius.tolist() == [0.0, 0.0]
    b_ = smoothed_certify(net, x, 0.5, n=500, seed=3)
    assert torch.equal(a.counts, b_.counts)


def test_the_lower_confidence_bound_covers_the_true_probability():
    """p_A = Phi(1) = 0.841 for a point at one sigma from a linear boundary; over 300 seeds the
    one-sided bound at alpha = 0.05 exceeds it in about 5 % of the runs, never in most."""
    net, w, b = _linear(w=(1.0, 0.0), b=0.0)
    sigma = 0.5
    x = torch.tensor([[sigma, 0.3]])
    p_true = statistics.NormalDist().cdf(1.0)
    misses = sum(
        float(smoothed_certify(net, x, sigma, n0=10, n=100, alpha=0.05, seed=s).p_lower[0]) > p_true
        for s in range(300)
    )
    assert misses <= 30  # 5 % of 300 is 15; the binomial's 99.9 % quantile is below 30


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sigma": 0.0}, "sigma"),
        ({"sigma": math.nan}, "sigma"),
        ({"sigma": 0.5, "alpha": 1.0}, "alpha"),
        ({"sigma": 0.5, "n": 0}, "n"),
    ],
)
def test_the_contract(kwargs, match):
    net, _, _ = _linear()
    with pytest.raises(ValueError, match=match):
        smoothed_certify(net, torch.zeros(1, 2), **kwargs)
    with pytest.raises(ValueError, match="NaN"):
        smoothed_certify(net, torch.tensor([[math.nan, 0.0]]), 0.5)
