"""Last-layer normalisation (lipviz.layers.linear): the LLN certificate against brute force."""

import pytest
import torch
from torch import nn

import lipviz
from lipviz.layers import (
    LLN,
)


def test_lln_certificate_equals_brute_force():
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), LLN(8, 6))
    assert torch.allclose(model[-1].weight.norm(dim=1), torch.ones(6))
    x = torch.randn(30, 5)
    cert = lipviz.certified_radius(model, x)
    assert cert.form == "pairwise"
    prefix = lipviz.lipschitz_bound(model[:-1], (5,)).value
    w = model[-1].weight.detach()
    with torch.no_grad():
        logits = model(x)
    for i in range(30):
        t = int(logits[i].argmax())
        brute = min(
            float(logits[i, t] - logits[i, j]) / (prefix * float((w[t] - w[j]).norm()))
            for j in range(6)
            if j != t
        )
        assert float(cert.radius[i]) == pytest.approx(brute, rel=1e-5)
