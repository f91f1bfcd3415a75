"""The Trainer: every objective runs, checkpoint/resume reproduces an uninterrupted run, mixed
precision, argument errors."""

import dataclasses

import pytest
import torch

import lipviz
from lipviz.data import ToyDataset, make_toy
from lipviz.models import create
from lipviz.train import (
    LMT,
    CrossEntropy,
    LocalLip,
    SpectralRegularized,
    TrainConfig,
    Trainer,
)


@pytest.fixture
def small_data():
    ds = lipviz.load_dataset("mnist5k", "train").subset(200)
    val = lipviz.load_dataset("mnist5k", "val").subset(100)
    return ds, val


class _Interrupt(Exception):
    pass


@pytest.mark.parametrize(
    "objective",
    [CrossEntropy(), LMT(c=0.5), SpectralRegularized(), LocalLip(eps=0.5, sparsity=0.01)],
    ids=repr,
)
def test_trainer_runs_every_objective(objective, small_data):
    ds, val = small_data
    model = lipviz.models.create("lmt-mnist")
    cfg = TrainConfig(
        epochs=2, batch_size=50, n_val_eval=100, select_on="val_cert_acc", select_eps=0.1
    )
    res = Trainer(model, objective, cfg, (1, 28, 28), progress=False).fit(ds, val)
    assert len(res.history) == 2 and res.best_epoch in (1, 2)
    assert res.history.lipschitz.notna().all()


def test_checkpoint_resume_reproduces_an_uninterrupted_run(small_data, tmp_path):
    ds, val = small_data
    cfg = TrainConfig(epochs=3, batch_size=50, n_val_eval=100)

    full = Trainer(lipviz.models.create("lmt-mnist"), LMT(c=0.3), cfg, (1, 28, 28), progress=False)
    ref = full.fit(ds, val)

    calls = {"n": 0}
    base = LMT(c=0.3)

    def flaky(model, x, y, lip, epoch):
        calls["n"] += 1
        if epoch >= 2.0 and calls["n"] < 100:  # dies in the third epoch, the first time only
            raise _Interrupt
        return base(model, x, y, lip, epoch)

    flaky.needs_lipschitz = True

    flaky.walks_model = False
    first = Trainer(
        lipviz.models.create("lmt-mnist"), flaky, cfg, (1, 28, 28), out_dir=tmp_path, progress=False
    )
    with pytest.raises(_Interrupt):
        first.fit(ds, val)
    assert (tmp_path / "checkpoint.pt").exists() and (tmp_path / "metrics.csv").exists()
    calls["n"] = 1000
    again = Trainer(
        lipviz.models.create("lmt-mnist"), flaky, cfg, (1, 28, 28), out_dir=tmp_path, progress=False
    )
    resumed = again.fit(ds, val)
    assert resumed.history.epoch.tolist() == [1, 2, 3]
    for a, b in zip(
        ref.model.state_dict().values(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.allclose(a, b, atol=1e-6)
    other = TrainConfig(epochs=3, batch_size=25, n_val_eval=100)
    with pytest.raises(ValueError, match="another training config"):
        Trainer(
            lipviz.models.create("lmt-mnist"),
            base,
            other,
            (1, 28, 28),
            out_dir=tmp_path,
            progress=False,
        ).fit(ds, val)


def test_trainer_argument_errors():
    model = lipviz.models.create("lmt-mnist")
    with pytest.raises(ValueError, match="optimizer"):
        Trainer(model, CrossEntropy(), TrainConfig(optimizer="rmsprop"), (1, 28, 28))
    with pytest.raises(ValueError, match="select_on"):
        Trainer(model, CrossEntropy(), TrainConfig(select_on="test_acc"), (1, 28, 28))


def test_mixed_precision_trains_and_certifies_in_fp32():
    from lipviz.certify import Certifier
    from lipviz.train import CrossEntropy, TrainConfig, Trainer

    train, val = make_toy("moons", n=200, seed=0), make_toy("moons", n=100, seed=1)
    model = create("toy-mlp", hidden=16, depth=1, spectral=False)
    seen = []
    cfg = TrainConfig(epochs=3, lr=0.05, amp="bf16")
    res = Trainer(model, CrossEntropy(), cfg, (2,), progress=False, callbacks=[seen.append]).fit(
        train, val
    )
    assert [len(rows) for rows in seen] == [1, 2, 3]  # the callback saw every epoch
    assert res.history.loss.notna().all() and res.history.val_acc.iloc[-1] > 0.6
    assert all(p.dtype == torch.float32 for p in res.model.parameters())
    cert = Certifier(res.model, (2,))
    outside = cert(val.x)
    with torch.autocast("cpu", torch.bfloat16):  # inside an autocast region: still fp32
        inside = cert(val.x)
        low_input = cert(val.x.bfloat16())
    assert torch.equal(outside.radius, inside.radius)
    assert low_input.radius.dtype == torch.float32
    cert.model = res.model.half()
    with pytest.raises(ValueError, match="fp32"):
        cert(val.x)
    with pytest.raises(ValueError, match="amp"):
        Trainer(model, CrossEntropy(), TrainConfig(amp="fp8"), (2,))


def _clipped_mlp():
    from torch import nn

    from lipviz.layers import ClippedReLU

    gen = torch.Generator().manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), ClippedReLU(32, 1.0), nn.Linear(32, 10))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
        net[2].theta.fill_(1.0)
    return net


def test_extending_a_run_reproduces_the_longer_run(small_data, tmp_path):
    ds, val = small_data
    short = TrainConfig(epochs=2, batch_size=50, n_val_eval=100)
    longer = TrainConfig(epochs=4, batch_size=50, n_val_eval=100, lr_milestones=(0.75,))

    def fit(cfg, out_dir=None):
        return Trainer(
            lipviz.models.create("lmt-mnist"),
            LMT(c=0.3),
            cfg,
            (1, 28, 28),
            out_dir=out_dir,
            progress=False,
        ).fit(ds, val)

    ref = fit(longer)
    fit(short, tmp_path)
    extended = fit(longer, tmp_path)
    assert extended.history.epoch.tolist() == [1, 2, 3, 4]
    assert extended.history.lr.tolist() == ref.history.lr.tolist()  # the step after epoch 3
    assert ref.history.lr.iloc[-1] == pytest.approx(longer.lr / 10)
    for a, b in zip(
        ref.model.state_dict().values(), extended.model.state_dict().values(), strict=True
    ):
        assert torch.allclose(a, b, atol=1e-6)
    # a step inside the epochs already trained would rewrite them: refused
    early = TrainConfig(epochs=8, batch_size=50, n_val_eval=100, lr_milestones=(0.25,))
    with pytest.raises(ValueError, match="extended"):
        fit(early, tmp_path)
    fewer = TrainConfig(epochs=3, batch_size=50, n_val_eval=100, lr=0.5)
    with pytest.raises(ValueError, match="another training config"):
        fit(fewer, tmp_path)


def test_local_lip_resume_reproduces_an_uninterrupted_run(small_data, tmp_path):
    ds, val = small_data
    cfg = TrainConfig(
        epochs=3,
        batch_size=50,
        n_val_eval=50,
        select_on="val_cert_acc",
        select_eps=0.3,
        select_certificate="local",
    )
    base = LocalLip(eps=0.5, warmup_epochs=0.5, rampup_epochs=1.5, sparsity=0.01)
    ref = Trainer(_clipped_mlp(), base, cfg, (1, 28, 28), progress=False).fit(ds, val)
    calls = {"n": 0}

    def flaky(model, x, y, lip, epoch):
        calls["n"] += 1
        if epoch >= 2.0 and calls["n"] < 100:  # dies in the third epoch, the first time only
            raise _Interrupt
        return base(model, x, y, lip, epoch)

    flaky.needs_lipschitz = False

    flaky.walks_model = False
    with pytest.raises(_Interrupt):
        Trainer(_clipped_mlp(), flaky, cfg, (1, 28, 28), out_dir=tmp_path, progress=False).fit(
            ds, val
        )
    calls["n"] = 1000
    resumed = Trainer(
        _clipped_mlp(), flaky, cfg, (1, 28, 28), out_dir=tmp_path, progress=False
    ).fit(ds, val)
    assert resumed.history.epoch.tolist() == [1, 2, 3]
    assert resumed.history.val_cert_acc.tolist() == ref.history.val_cert_acc.tolist()
    for a, b in zip(
        ref.model.state_dict().values(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.allclose(a, b, atol=1e-6)
    assert (resumed.model[2].theta >= 0).all()  # thresholds projected after every step


def test_a_diverged_run_stops_loudly_and_keeps_the_last_finite_epoch(tmp_path):
    train, val = make_toy("moons", n=100, seed=0), make_toy("moons", n=50, seed=1)
    base = CrossEntropy()

    def blows_up(model, x, y, lip, epoch):
        loss, info = base(model, x, y, lip, epoch)
        return (loss * float("nan") if epoch >= 1.0 else loss), info  # NaN from epoch 2 on

    blows_up.needs_lipschitz = blows_up.walks_model = False
    cfg = TrainConfig(epochs=3, lr=0.05)
    model = create("toy-mlp", hidden=8, depth=1, spectral=False)
    trainer = Trainer(model, blows_up, cfg, (2,), out_dir=tmp_path, progress=False)
    with pytest.raises(FloatingPointError, match="epoch 2 ended with parameters that are not"):
        trainer.fit(train, val)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_empty_splits_and_foreign_configs_are_refused():
    model = create("toy-mlp", hidden=4, depth=1)
    data = make_toy("moons", n=20, seed=0)
    trainer = Trainer(model, CrossEntropy(), TrainConfig(epochs=1), (2,), progress=False)
    with pytest.raises(ValueError, match="must not be empty, got 20 and 0"):
        trainer.fit(data, ToyDataset(data.x[:0], data.y[:0], data.name, data.params))
    with pytest.raises(TypeError, match="cfg must be a TrainConfig"):
        Trainer(model, CrossEntropy(), {"epochs": 1}, (2,))


def test_an_objective_that_is_not_one_is_refused_with_the_protocol_named():
    model = create("toy-mlp", hidden=8, depth=1, spectral=False)

    def loss_only(model, x, y, lip, epoch):  # states neither needs_lipschitz nor walks_model
        return CrossEntropy()(model, x, y, lip, epoch)

    with pytest.raises(TypeError, match=r"not an Objective.*needs_lipschitz and walks_model"):
        Trainer(model, loss_only, TrainConfig(epochs=1), (2,), progress=False)
    assert isinstance(CrossEntropy(), lipviz.train.objectives.Objective)


def test_the_exponential_schedule_is_the_reference_codes_and_resumes(small_data, tmp_path):
    """``utils.lr_exp`` of the Local-Lip code, transcribed, against the Trainer's rates; a run
    stopped after two epochs continues with the same rates, and is never extended."""
    from lipviz.train.settings import exp_decay

    def lr_exp(start_lr, end_lr, epoch, max_epoch, more=25):  # the reference, verbatim logic
        if epoch >= (max_epoch // 2 + more):
            return (end_lr / start_lr) ** (
                (float(epoch) - (max_epoch // 2 + more - 1)) / (max_epoch // 2 - more)
            )
        return 1.0

    for e in (0, 100, 174, 175, 176, 250, 299):
        assert exp_decay(e, 300, 1e-3, 5e-6, 25) == pytest.approx(lr_exp(1e-3, 5e-6, e, 300))
    ds, val = small_data
    cfg = TrainConfig(
        epochs=4, batch_size=50, n_val_eval=50, lr_schedule="exp", end_lr=1e-5, lr_hold=1
    )
    run = Trainer(create("lmt-mnist"), LMT(c=0.3), cfg, (1, 28, 28), progress=False).fit(ds, val)
    rates = [1e-3 * exp_decay(e, 4, 1e-3, 1e-5, 1) for e in range(1, 5)]  # after each epoch
    assert run.history.lr.tolist() == pytest.approx(rates)
    assert run.history.lr.iloc[-1] == pytest.approx(1e-3 * (1e-5 / 1e-3) ** 2)
    Trainer(
        create("lmt-mnist"), LMT(c=0.3), cfg, (1, 28, 28), out_dir=tmp_path, progress=False
    ).fit(ds, val)
    again = Trainer(
        create("lmt-mnist"), LMT(c=0.3), cfg, (1, 28, 28), out_dir=tmp_path, progress=False
    )
    assert again.resume() == 4
    with pytest.raises(ValueError, match="another training config"):
        Trainer(
            create("lmt-mnist"),
            LMT(c=0.3),
            dataclasses.replace(cfg, epochs=6),
            (1, 28, 28),
            out_dir=tmp_path,
            progress=False,
        ).resume()


def test_a_compact_checkpoint_is_smaller_and_resumes_close_to_the_full_one(small_data, tmp_path):
    import shutil

    from lipviz.train import compact_checkpoint

    ds, val = small_data
    cfg = TrainConfig(epochs=2, batch_size=50, n_val_eval=100, select_on="val_acc")
    full_dir, small_dir = tmp_path / "full", tmp_path / "small"
    Trainer(
        create("lmt-mnist"), LMT(c=0.3), cfg, (1, 28, 28), out_dir=full_dir, progress=False
    ).fit(ds, val)
    small_dir.mkdir()
    info = compact_checkpoint(full_dir / "checkpoint.pt", small_dir / "checkpoint.pt")
    assert info["bytes_after"] < 0.75 * info["bytes_before"]
    state = torch.load(small_dir / "checkpoint.pt", weights_only=True)
    moments = [v for e in state["optimizer"]["state"].values() for k, v in e.items() if k != "step"]
    assert moments and all(v.dtype == torch.bfloat16 for v in moments)
    assert all(v.dtype == torch.float32 for v in state["model"].values())
    more = dataclasses.replace(cfg, epochs=3)
    runs = {}
    for name, folder in (("full", full_dir), ("small", small_dir)):
        trainer = Trainer(
            create("lmt-mnist"), LMT(c=0.3), more, (1, 28, 28), out_dir=folder, progress=False
        )
        assert trainer.resume() == 2
        runs[name] = trainer.fit(ds, val)
    assert runs["small"].best_epoch == runs["full"].best_epoch
    for a, b in zip(
        runs["full"].model.state_dict().values(),
        runs["small"].model.state_dict().values(),
        strict=True,
    ):
        assert torch.allclose(a, b, rtol=0.05, atol=1e-3)  # moments rounded to bf16 only
    shutil.rmtree(small_dir)


def test_local_validation_bounds_convolutions_without_eigenproblems(small_data, monkeypatch):
    """Each epoch's sound local validation uses the FFT bound alone on convolutions; the
    exact norms' eigenproblems are left to the final certificate."""
    from torch import nn

    from lipviz.bounds.local import _norms as local_norms
    from lipviz.train import CrossEntropy

    def no_eigenproblem(*args):
        raise AssertionError("validation solved an eigenproblem")

    monkeypatch.setattr(local_norms, "_conv_gram_norm", no_eigenproblem)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten())
    net.append(nn.Linear(392, 10))
    cfg = TrainConfig(
        epochs=1,
        batch_size=50,
        n_val_eval=20,
        select_on="val_cert_acc",
        select_eps=0.1,
        select_certificate="local",
    )
    fit = Trainer(net, CrossEntropy(), cfg, (1, 28, 28), progress=False).fit(*small_data)
    assert 0.0 <= fit.history.val_cert_acc.iloc[0] <= fit.history.val_acc.iloc[0]
