"""LMT objective, the persistent power-iteration bound, checkpoint/resume, models and the CLI."""

import json
import math

import pytest
import torch
from torch import nn

import lipviz
from lipviz.bounds import lipschitz_bound
from lipviz.experiments.__main__ import main as cli
from lipviz.train import (
    LMT,
    CrossEntropy,
    PowerIterationBound,
    SpectralRegularized,
    TrainConfig,
    Trainer,
    linear_warmup,
)


@pytest.fixture
def small_data():
    ds = lipviz.load_dataset("mnist5k", "train").subset(200)
    val = lipviz.load_dataset("mnist5k", "val").subset(100)
    return ds, val


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


@pytest.mark.parametrize("objective", [CrossEntropy(), LMT(c=0.5), SpectralRegularized()], ids=repr)
def test_trainer_runs_every_objective(objective, small_data):
    ds, val = small_data
    model = lipviz.models.create("lmt-mnist")
    cfg = TrainConfig(
        epochs=2, batch_size=50, n_val_eval=100, select_on="val_cert_acc", select_eps=0.1
    )
    res = Trainer(model, objective, cfg, (1, 28, 28), progress=False).fit(ds, val)
    assert len(res.history) == 2 and res.best_epoch in (1, 2)
    assert res.history.lipschitz.notna().all()


class _Interrupt(Exception):
    pass


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
    first = Trainer(lipviz.models.create("lmt-mnist"), flaky, cfg, (1, 28, 28), out_dir=tmp_path,
                    progress=False)  # fmt: skip
    with pytest.raises(_Interrupt):
        first.fit(ds, val)
    assert (tmp_path / "checkpoint.pt").exists() and (tmp_path / "metrics.csv").exists()
    calls["n"] = 1000
    again = Trainer(lipviz.models.create("lmt-mnist"), flaky, cfg, (1, 28, 28), out_dir=tmp_path,
                    progress=False)  # fmt: skip
    resumed = again.fit(ds, val)
    assert resumed.history.epoch.tolist() == [1, 2, 3]
    for a, b in zip(
        ref.model.state_dict().values(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.allclose(a, b, atol=1e-6)
    other = TrainConfig(epochs=3, batch_size=25, n_val_eval=100)
    with pytest.raises(ValueError, match="another training config"):
        Trainer(lipviz.models.create("lmt-mnist"), base, other, (1, 28, 28), out_dir=tmp_path,
                progress=False).fit(ds, val)  # fmt: skip


def test_trainer_argument_errors():
    model = lipviz.models.create("lmt-mnist")
    with pytest.raises(ValueError, match="optimizer"):
        Trainer(model, CrossEntropy(), TrainConfig(optimizer="rmsprop"), (1, 28, 28))
    with pytest.raises(ValueError, match="select_on"):
        Trainer(model, CrossEntropy(), TrainConfig(select_on="test_acc"), (1, 28, 28))


@pytest.mark.parametrize(("name", "params"), [("lmt-mnist", 166406), ("4c3f", 1974762)])
def test_named_models(name, params):
    model = lipviz.models.create(name)
    assert sum(p.numel() for p in model.parameters()) == params
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    assert isinstance(model[0], lipviz.Normalize)
    assert lipschitz_bound(model, (1, 28, 28)).sound


def test_cli_writes_a_run_folder_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["run", "lmt", "--out", str(out), "--set", "epochs=1", "n_test=100", "n_val_eval=50"]
    assert cli(args) == 0
    for name in ("config.json", "metrics.csv", "summary.json", "certified.csv", "checkpoint.pt"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["certificate"].endswith("sound")
    assert summary["dataset"].startswith("MNIST-5k")
    assert cli(args) == 0  # resumes: nothing left to train, same result
    assert (
        json.loads((out / "summary.json").read_text())["certified_accuracy"]
        == summary["certified_accuracy"]
    )
    table = lipviz.experiments.runs_table([out, tmp_path / "missing"])
    assert len(table) == 1
