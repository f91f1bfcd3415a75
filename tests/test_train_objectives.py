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


def _reference_schedule(
    epoch: int, batch: int, n_batches: int, *, eps_train, eval_eps, warmup, rampup
):
    """``train_mnist.py`` and ``Local_bound.train`` of the reference code, transcribed: the
    per-epoch values from ``np.linspace`` and the within-epoch step with the *eval* epsilon."""
    import numpy as np

    eps_schedule = np.linspace(0.0, eps_train, rampup)
    kappa_schedule = np.linspace(1.0, 0.0, rampup)
    if epoch < warmup:
        epsilon, kappa = 0.0, 1.0
    elif epoch < warmup + len(eps_schedule):
        epsilon, kappa = float(eps_schedule[epoch - warmup]), float(kappa_schedule[epoch - warmup])
    else:
        epsilon, kappa = eps_train, 0.0
    epsilon1 = epsilon + batch / n_batches * (eval_eps - 0.0) / rampup
    kappa1 = kappa + batch / n_batches * (0.0 - 1.0) / rampup
    return epsilon1, kappa1


@pytest.mark.parametrize(("warmup", "rampup"), [(0, 150), (20, 400), (2, 1)])
def test_the_reference_ramp_is_the_reference_codes(warmup, rampup):
    from lipviz.train import LocalLip

    obj = LocalLip(
        eps=1.75, warmup_epochs=warmup, rampup_epochs=rampup, ramp="reference", eval_eps=1.58
    )
    n = 235  # batches of 256 in 60,000 MNIST images
    for epoch in sorted({0, 1, warmup, warmup + 1, warmup + rampup - 1, warmup + rampup, 299}):
        for batch in (0, 1, 117, 234):
            eps, kappa = obj.schedule(epoch + batch / n)
            ref_eps, ref_kappa = _reference_schedule(
                epoch, batch, n, eps_train=1.75, eval_eps=1.58, warmup=warmup, rampup=rampup
            )
            assert eps == pytest.approx(ref_eps, abs=1e-12)
            if epoch >= warmup:
                assert kappa == pytest.approx(max(ref_kappa, 0.0), abs=1e-12)  # lipviz clamps
            else:
                assert kappa == 1.0  # the code's warm-up kappa1 is 1 - f/R, unused (clean loss)


def test_gloro_loss_is_used_alone_as_in_the_reference_code():
    """With ``gloro=True`` the loss is CE([f(x), max_{j != y} z~_j], y) whatever kappa is (the
    code: ``if args.gloro: loss = local_loss``); the BCP loss is mixed by kappa."""
    from lipviz.certify import local_worst_logits
    from lipviz.layers import ClippedReLU
    from lipviz.train import LocalLip

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 16), ClippedReLU(16, 0.5), nn.Linear(16, 3))
    x, y = torch.rand(10, 4), torch.randint(0, 3, (10,))
    worst, _, logits = local_worst_logits(net, x, y, 0.05, n_iter=5, sparsity=False)
    others = worst.scatter(1, y[:, None], float("-inf")).amax(1, keepdim=True)
    gloro = nn.functional.cross_entropy(torch.cat([logits, others], 1), y)
    obj = LocalLip(eps=0.1, rampup_epochs=2.0, gloro=True, n_iter=5)
    assert obj.schedule(1.0) == (0.05, 0.5)
    loss, _ = obj(net, x, y, None, 1.0)
    assert float(loss.detach()) == pytest.approx(float(gloro.detach()), rel=1e-5)
    bcp, _ = LocalLip(eps=0.1, rampup_epochs=2.0, gloro=False, n_iter=5)(net, x, y, None, 1.0)
    mixed = 0.5 * nn.functional.cross_entropy(logits, y) + 0.5 * nn.functional.cross_entropy(
        worst, y
    )
    assert float(bcp.detach()) == pytest.approx(float(mixed.detach()), rel=1e-5)


def test_adversarial_training_takes_the_loss_at_the_attacks_point():
    """Danskin: the gradient is the loss's at the attack's point, held constant; the point is
    in the ball, and the radius is warmed up from 0."""
    from lipviz.experiments.lmt import make_objective
    from lipviz.train import Adversarial

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    x, y = torch.rand(32, 4), torch.randint(0, 3, (32,))
    seen = {}

    def attack(model, x, y, eps):
        result = lipviz.pgd_l2(model, x, y, eps, steps=20)
        seen["dist"] = (result.x_adv - x).flatten(1).norm(dim=1)
        return result

    objective = Adversarial(attack, eps=0.3, warmup_epochs=2.0)
    clean = nn.functional.cross_entropy(net(x), y)
    loss, metrics = objective(net, x, y, None, 4.0)
    assert metrics["eps"] == 0.3 and bool((seen["dist"] <= 0.3 + 1e-6).all())
    assert loss.item() > clean.item()  # the attack raised the loss
    loss.backward()
    assert all(p.grad is not None for p in net.parameters())
    _, half = objective(net, x, y, None, 1.0)
    assert half["eps"] == pytest.approx(0.15)
    _, none = objective(net, x, y, None, 0.0)
    assert none["eps"] == 0.0 and torch.equal(none["logits"], net(x))
    cfg = lipviz.resolve("lmt", "smoke", method="pgd", adv_eps=0.5, adv_steps=3)
    made = make_objective(cfg)
    assert isinstance(made, Adversarial) and made.eps == 0.5
    assert made.attack.keywords == {"steps": 3}
    with pytest.raises(ValueError, match="input units"):
        lipviz.resolve("lmt", "smoke", method="pgd", adv_eps=36.0)
