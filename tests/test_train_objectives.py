"""Training objectives (lipviz.train.objectives): LMT's shifts, kappa clipping, warm-up, and
certificate regularisation against brute force."""

import math

import pytest
import torch
from torch import nn

import lipviz
from lipviz.layers import (
    LLN,
    OrthogonalLinear,
)
from lipviz.train import (
    LMT,
    PowerIterationBound,
    linear_warmup,
)


def test_lmt_objective_shifts_match_by_hand():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 4))
    lip = PowerIterationBound(model, (6,)).eval()
    x, y = torch.randn(5, 6), torch.tensor([0, 1, 2, 3, 0])
    logits = model(x)
    others = 1 - nn.functional.one_hot(y, 4)
    L, _ = lip()
    glob, _ = LMT(c=0.7)(model, x, y, lip, epoch=5.0)
    expected = nn.functional.cross_entropy(logits + math.sqrt(2) * 0.7 * L * others, y)
    assert glob.item() == pytest.approx(expected.item(), rel=1e-6)
    w = model[-1].weight
    dist = torch.stack([(w - w[t]).norm(dim=1) for t in y])
    pair, _ = LMT(c=0.7, form="pairwise")(model, x, y, lip, epoch=5.0)
    expected = nn.functional.cross_entropy(logits + 0.7 * lip.prefix() * dist * others, y)
    assert pair.item() == pytest.approx(expected.item(), rel=1e-6)


def test_kappa_clip_never_pushes_beyond_the_margin():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 4))
    lip = PowerIterationBound(model, (6,)).eval()
    x = torch.randn(64, 6)
    with torch.no_grad():
        y = model(x).argmin(1)  # every point misclassified: kappa = 0, plain cross-entropy
    clipped, _ = LMT(c=5.0, kappa_clip=True)(model, x, y, lip, epoch=1.0)
    plain = nn.functional.cross_entropy(model(x), y)
    assert clipped.item() == pytest.approx(plain.item(), rel=1e-6)


def test_warmup_schedule_and_bad_arguments():
    sched = linear_warmup(1.0, 4.0, start=0.0)
    assert [sched(e) for e in (0, 2, 4, 10)] == [0.0, 0.5, 1.0, 1.0]
    with pytest.raises(ValueError, match="form"):
        LMT(form="local")
    with pytest.raises(ValueError, match="c must be"):
        LMT(c=-1)


def test_certificate_regularization_with_an_orthogonal_last_layer():
    from lipviz.train import CertificateRegularized

    torch.manual_seed(7)
    model = nn.Sequential(nn.Linear(5, 6), OrthogonalLinear(6, 3))
    x, y = torch.randn(8, 5), torch.randint(0, 3, (8,))
    loss, out = CertificateRegularized(gamma=0.5, lipschitz=2.0)(model, x, y, None, 0.0)
    logits = out["logits"]
    other = logits.masked_fill(nn.functional.one_hot(y, 3).bool(), -float("inf")).amax(1)
    cert = (logits.gather(1, y[:, None])[:, 0] - other) / (math.sqrt(2) * 2.0)
    expected = nn.functional.cross_entropy(logits, y) - 0.5 * torch.relu(cert).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_certificate_regularization_matches_brute_force():
    from lipviz.train import CertificateRegularized

    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), LLN(8, 4))
    x, y = torch.randn(16, 5), torch.randint(0, 4, (16,))
    loss, _ = CertificateRegularized(gamma=0.3, lipschitz=2.0)(model, x, y, None, 0.0)
    logits = model(x)
    w = model[-1].weight

    def pair(i, j):
        return (logits[i, y[i]] - logits[i, j]) / (2.0 * (w[y[i]] - w[j]).norm())

    cert = torch.stack([min(pair(i, j) for j in range(4) if j != y[i]) for i in range(16)])
    expected = nn.functional.cross_entropy(logits, y) - 0.3 * torch.relu(cert).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_local_lip_worst_logits_dominate_and_train_the_thresholds():
    from lipviz.certify import local_worst_logits
    from lipviz.layers import ClippedReLU

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 16), ClippedReLU(16, 0.5), nn.Linear(16, 3))
    x, y = torch.rand(10, 4), torch.randint(0, 3, (10,))
    worst, sparsity, centre = local_worst_logits(net, x, y, 0.1, n_iter=5)
    logits = net(x)
    assert torch.allclose(centre, logits, atol=1e-6)  # the walk's logits are the model's
    assert worst.shape == logits.shape and worst.dtype == logits.dtype
    own = worst.gather(1, y[:, None])
    assert torch.allclose(own, logits.gather(1, y[:, None]), atol=1e-5)
    assert (worst >= logits - 1e-5).all()  # the worst case is never better than the centre
    (worst.logsumexp(1).mean() + sparsity).backward()
    assert net[1].theta.grad is not None and net[1].theta.grad.abs().sum() > 0
    assert net[0].weight.grad.abs().sum() > 0


def test_local_lip_schedule_and_trainer_projection():
    from lipviz.layers import ClippedReLU
    from lipviz.train import LocalLip, TrainConfig, Trainer

    obj = LocalLip(eps=1.0, warmup_epochs=1.0, rampup_epochs=2.0)
    assert obj.schedule(0.5) == (0.0, 1.0) and obj.schedule(2.0) == (0.5, 0.5)
    assert obj.schedule(10.0) == (1.0, 0.0)
    with pytest.raises(ValueError, match=">= 0"):
        LocalLip(eps=-1.0)
    toy = lipviz.make_toy("moons", n=64, seed=0)
    net = nn.Sequential(nn.Linear(2, 16), ClippedReLU(16, 0.05), nn.Linear(16, 2))
    cfg = TrainConfig(epochs=2, lr=0.5, batch_size=32, n_val_eval=64)
    Trainer(net, LocalLip(eps=0.1, rampup_epochs=1.0, sparsity=1.0), cfg, (2,), progress=False).fit(
        toy, toy
    )
    assert (net[1].theta >= 0).all()  # projected after every step
