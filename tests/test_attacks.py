"""PGD-l2 on a linear model, where the minimal adversarial distance is known in closed form."""

import pytest
import torch

from lipviz.attacks import margin_loss, pgd_l2
from lipviz.functional.checks import check_eps


def test_pgd_finds_the_boundary_just_beyond_the_exact_distance(linear_classifier):
    model, x, y, dist = linear_classifier
    res = pgd_l2(model, x, y, dist * 1.01, steps=30, box=None)
    assert res.success.all()
    assert (res.distance <= dist * 1.01 + 1e-5).all()


def test_pgd_cannot_succeed_below_the_exact_distance(linear_classifier):
    model, x, y, dist = linear_classifier
    res = pgd_l2(model, x, y, dist * 0.99, steps=30, restarts=3, box=None)
    assert not res.success.any()


def test_margin_loss_sign():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0]])
    assert margin_loss(logits, torch.tensor([0, 0])).tolist() == [-1.0, 3.0]


def test_eps_errors():
    x = torch.rand(3, 1, 28, 28)
    with pytest.raises(ValueError, match="input units"):
        check_eps(36.0, x)  # 36/255 typed as 36
    with pytest.raises(ValueError, match=">= 0"):
        check_eps(-0.1, x)
    with pytest.raises(ValueError, match="one value per input"):
        check_eps(torch.ones(2), x)
    assert check_eps(1.58, x).shape == (3,)
