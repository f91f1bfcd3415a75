"""Experiment runners and the command line: run folders, resume, soundness of the results."""

import dataclasses
import json

import pytest
import torch

import lipviz
from lipviz.cli import main as cli
from lipviz.viz import compute


def test_cli_writes_a_run_folder_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["run", "lmt", "--out", str(out), "--set", "epochs=1", "n_test=100", "n_val_eval=50"]
    assert cli(args) == 0
    for name in (
        "config.json",
        "metrics.csv",
        "summary.json",
        "certified.csv",
        "checkpoint.pt",
        "model.pt",
    ):
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
    # a finished run folder is a model any reader can re-certify: load_run rebuilds it
    run = lipviz.experiments.load_run(out)
    assert run.config == lipviz.resolve("lmt", "smoke", epochs=1, n_test=100, n_val_eval=50)
    assert run.summary["experiment"] == "lmt" and not run.model.training
    test = lipviz.load_dataset("mnist5k", "test").subset(100)
    table = lipviz.certified_accuracy(run.model, test.x, test.y, run.config.eps)
    assert list(table.certified_accuracy) == list(summary["certified_accuracy"].values())
    assert lipviz.experiments.load_run(out, model=False).model is None


def test_load_run_refuses_an_unfinished_folder(tmp_path):
    import pytest

    with pytest.raises(FileNotFoundError, match="not a finished run folder"):
        lipviz.experiments.load_run(tmp_path)


def test_margins2d_experiment_has_no_violations(trained_toy):
    t = trained_toy.table
    assert {"certified_radius", "true_distance", "ratio"} <= set(t.columns)
    assert (t.certified_radius <= t.true_distance + 1e-6).all()
    assert trained_toy.bound.sound
    summary = compute.tightness_summary(t)
    assert int(summary.violations.iloc[0]) == 0
    assert 0 < summary.ratio_median.iloc[0] <= 1


def test_run_soc_smoke_writes_a_sound_run(tmp_path):
    cfg = lipviz.resolve("soc", "smoke", epochs=1, init_channels=4, n_test=100, n_val_eval=100)
    result = lipviz.experiments.run_soc(cfg, out_dir=tmp_path, progress=False)
    assert result.summary["certificate"] == "pairwise, sound"
    assert (tmp_path / "summary.json").exists()
    test = lipviz.load_dataset("mnist5k", "test").subset(60)
    report = lipviz.audit(result.model, test.x, test.y, restarts=2, steps=30, lipschitz_steps=5)
    assert report.violations == 0
    loaded = lipviz.experiments.load_run(tmp_path).model  # parametrized SOC layers rebuilt
    assert torch.allclose(loaded(test.x), result.model.cpu()(test.x), atol=1e-6)


def test_run_locallip_reports_sound_estimate_global_and_pgd_side_by_side(tmp_path):
    args = [
        "run",
        "locallip",
        "--out",
        str(tmp_path),
        "--set",
        "epochs=1",
        "n_test=40",
        "n_val_eval=20",
        "estimate_n_iter=5",
        "eps=(0.0, 0.3)",
    ]
    assert cli(args) == 0
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["certificate"] == "local (box and ball), sound"
    for key in (
        "certified_accuracy",
        "certified_accuracy_estimate",
        "certified_accuracy_global",
        "pgd_accuracy",
    ):
        assert set(s[key]) == {"0.0", "0.3"}
    for e in ("0.0", "0.3"):  # a certificate never beats the attack; the estimate >= sound
        assert s["certified_accuracy"][e] <= s["pgd_accuracy"][e] + 1e-6  # float32 means
        assert s["certified_accuracy"][e] <= s["certified_accuracy_estimate"][e] + 1e-6
    assert s["selected_on"].startswith("val_cert_acc (eps=0.5")
    run = lipviz.experiments.load_run(tmp_path)  # learned clip thresholds come back too
    test = lipviz.load_dataset("mnist5k", "test").subset(40)
    ok = lipviz.local_certified(run.model, test.x, 0.3) & (run.model(test.x).argmax(1) == test.y)
    assert ok.double().mean() == s["certified_accuracy"]["0.3"]


def test_presets_resolve_by_name_and_refuse_unknown_ones():
    import pytest

    assert lipviz.config.preset_names(lipviz.config.LocalLipConfig) == [
        "smoke",
        "full",
        "full-cifar10",
    ]
    cifar = lipviz.resolve("locallip", "full-cifar10")
    assert cifar.model == "6c2f" and abs(cifar.eps[1] - 36 / 255) < 1e-12 and not cifar.gloro
    assert lipviz.resolve("locallip", "FULL").train_eps == 1.75
    with pytest.raises(ValueError, match="Unknown preset 'huge'"):
        lipviz.resolve("locallip", "huge")


def test_load_splits_gives_disjoint_train_and_val_and_the_first_test_images():
    from lipviz.experiments.runs import load_splits

    cfg = lipviz.resolve("soc", "smoke", n_test=50, seed=3)
    train, val, test = load_splits(cfg)
    assert (train.split, val.split, test.split) == ("train", "val", "test") and len(test) == 50
    full = lipviz.load_dataset(cfg.dataset, "test")
    assert torch.equal(test.x, full.x[:50])
    seen = {bytes(x.numpy()) for x in train.x}
    assert not any(bytes(x.numpy()) in seen for x in val.x)


# --- the command line: bad input is one line on stderr and exit status 2, nothing written -------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "lmt", "--set", "epochs"], "--set expects KEY=VALUE, got 'epochs'"),
        (["run", "lmt", "--set", "=3"], "--set expects KEY=VALUE, got '=3'"),
        (["run", "lmt", "--set", "epochs=1", "epochs=2"], "--set gives epochs twice"),
        (["run", "lmt", "--set", "epoch=1"], "Unknown LMTConfig fields ['epoch'] (did you mean"),
        (["run", "lmt", "--set", "epochs=2.5"], "LMTConfig.epochs expects int, got 2.5"),
        (["run", "lmt", "--set", "kappa_clip=yes"], "LMTConfig.kappa_clip expects bool"),
        (["run", "lmt", "--set", "lr=nan"], "LMTConfig.lr expects float, got 'nan'"),
        (["run", "lmt", "--set", "n_test=None"], "LMTConfig.n_test cannot be None"),
        (["run", "lmt", "--set", "lr=-0.1"], "LMTConfig.lr must be finite and > 0, got -0.1"),
        (["run", "lmt", "--set", "lr=1e999"], "LMTConfig.lr must be finite and > 0, got inf"),
        (["run", "lmt", "--set", "eps=(0, 36)"], "radii are in input units (36/255"),
        (["run", "soc", "--set", "depth=6"], "SOCConfig.depth must be one of 5, 10"),
        (["run", "lmt", "--set", "model=lmt-cifar"], "Unknown model 'lmt-cifar'"),
        (["run", "lmt", "--set", "activation=relu"], "model 'lmt-mnist' takes no activation"),
        (["run", "lmt", "--preset", "huge"], "Unknown preset 'huge' of LMTConfig"),
        (["run", "lmtt"], "Unknown experiment 'lmtt' (did you mean 'lmt'?)"),
        (["run"], "the following arguments are required: name"),
        (["run", "lmt", "--epochs", "3"], "unrecognized arguments: --epochs 3"),
        (["run", "lmt", "--device", "gpu"], "--device expects cpu, cuda or cuda:N, got 'gpu'"),
    ],
)
def test_bad_command_lines_get_one_line_and_status_2(tmp_path, capsys, args, message):
    out = tmp_path / "run"
    assert cli([*args, "--out", str(out)] if len(args) > 1 else args) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert captured.err.count("\n") == 1 and message in captured.err, captured.err
    assert not out.exists()  # nothing was written


def test_lipviz_run_is_the_same_command_line(tmp_path, capsys):
    from lipviz.cli import main as lipviz_main

    out = tmp_path / "run"
    assert lipviz_main(["run", "soc", "--out", str(out), "--set", "n_test=0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "SOCConfig.n_test must be >= 1, got 0" in err
    assert not out.exists()


def test_n_test_zero_is_refused_before_anything_runs(tmp_path, capsys):
    """Issue 26, defect 9: ``--set n_test=0`` gave NaN accuracies and exit status 0."""
    out = tmp_path / "run"
    args = ["run", "lmt", "--out", str(out), "--set", "n_test=0", "epochs=1", "n_val_eval=10"]
    assert cli(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "LMTConfig.n_test must be >= 1, got 0" in err
    assert not out.exists()


# --- run folders: resumed only by the same run, never left describing another -------------------


class _Interrupt(Exception):
    pass


def _tiny_lmt(out, objective=None, **changes):
    """An LMT run on 100 MNIST-5k images through train_and_certify, the runners' own path."""
    from lipviz.experiments import lmt
    from lipviz.experiments.runs import train_and_certify
    from lipviz.train import TrainConfig

    cfg = lipviz.resolve("lmt", "smoke", **{"epochs": 1, "n_val_eval": 20, "n_test": 20} | changes)
    train = lipviz.load_dataset("mnist5k", "train").subset(100)
    val = lipviz.load_dataset("mnist5k", "val").subset(20)
    test = lipviz.load_dataset("mnist5k", "test").subset(cfg.n_test)
    tcfg = TrainConfig(
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        select_on="val_cert_acc",
        select_eps=cfg.select_eps,
        n_val_eval=cfg.n_val_eval,
    )
    model = lmt.build_model(cfg, train.input_shape)
    return train_and_certify(
        cfg,
        model,
        objective or lmt.make_objective(cfg),
        tcfg,
        (train, val, test),
        method=cfg.method,
        out_dir=out,
        progress=False,
    )


def _files(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_run_folder_is_resumed_only_under_the_same_experiment_config(tmp_path):
    _tiny_lmt(tmp_path)
    before = _files(tmp_path)
    # c is not in the training config: the checkpoint must still know it was another run's
    with pytest.raises(ValueError, match=r"written by another run \(c \(checkpoint 1.0, now 2.0"):
        _tiny_lmt(tmp_path, c=2.0)
    with pytest.raises(ValueError, match="another run"):
        _tiny_lmt(tmp_path, dataset="mnist")
    assert _files(tmp_path) == before  # a refused folder is left as it was
    # what only shapes the evaluation may change: the run resumes (nothing left to train)
    again = _tiny_lmt(tmp_path, n_test=10, eps=(0.0, 0.5))
    assert again.history.epoch.tolist() == [1] and again.summary["certified_accuracy"].keys() == {
        "0.0",
        "0.5",
    }


def test_extending_a_finished_run_withdraws_its_summary_first(tmp_path):
    _tiny_lmt(tmp_path)
    assert (tmp_path / "summary.json").exists()

    def dies(model, x, y, lip, epoch):
        raise _Interrupt

    dies.needs_lipschitz = True

    dies.walks_model = False
    with pytest.raises(_Interrupt):
        _tiny_lmt(tmp_path, objective=dies, epochs=2)
    # the folder now describes a 2-epoch run that has not finished: no summary of the 1-epoch run
    assert json.loads((tmp_path / "config.json").read_text())["epochs"] == 2
    assert not (tmp_path / "summary.json").exists()


def test_a_nan_result_fails_loudly_and_writes_no_summary(tmp_path, monkeypatch):
    from lipviz.experiments import runs

    real = runs.certified_accuracy

    def with_nan(*args, **kw):
        table = real(*args, **kw)
        table.loc[1, "certified_accuracy"] = float("nan")
        return table

    monkeypatch.setattr(runs, "certified_accuracy", with_nan)
    with pytest.raises(
        FloatingPointError, match=r"summary\.json: certified_accuracy\.0\.25 is NaN"
    ):
        _tiny_lmt(tmp_path)
    assert not (tmp_path / "summary.json").exists() and not (tmp_path / "model.pt").exists()


def test_the_command_line_reports_a_nan_result_with_status_1(tmp_path, capsys, monkeypatch):
    from lipviz import experiments

    def diverged(cfg, out_dir=None, *, device=None, progress=True):
        raise FloatingPointError("epoch 1 ended with parameters that are not finite")

    lmt = dataclasses.replace(experiments.EXPERIMENTS["lmt"], run=diverged)
    monkeypatch.setitem(experiments.EXPERIMENTS, "lmt", lmt)
    assert cli(["run", "lmt", "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not finite" in err


@pytest.mark.parametrize("name", ["lmt", "locallip", "soc"])
def test_every_runner_hands_its_run_id_to_what_writes_the_summary(name, monkeypatch):
    """A batch job finds its run by this id, so a runner that drops it loses the job's result."""
    module = getattr(lipviz.experiments, name)
    seen = {}

    def recorded(*args, **kwargs):
        seen.update(kwargs)
        return "result"

    small = lipviz.load_dataset("mnist5k", "test").subset(8)
    monkeypatch.setattr(module, "train_and_certify", recorded)
    monkeypatch.setattr(module, "load_splits", lambda cfg: (small, small, small))
    run = lipviz.experiments.EXPERIMENTS[name].run
    assert run(lipviz.resolve(name, "smoke"), "folder", run_id="chapter-x/smoke-a") == "result"
    assert seen["run_id"] == "chapter-x/smoke-a"


def test_margins2d_writes_the_given_run_id_or_its_folders_name(tmp_path):
    cfg = lipviz.resolve("margins2d", "smoke", epochs=1, n_show=5, n_directions=8)
    lipviz.experiments.run_margins2d(cfg, tmp_path / "a", progress=False, run_id="toy/a")
    lipviz.experiments.run_margins2d(cfg, tmp_path / "b", progress=False)
    ids = [json.loads((tmp_path / f / "summary.json").read_text())["run_id"] for f in "ab"]
    assert ids == ["toy/a", "b"]
