"""Experiment runners and the command line: run folders, resume, soundness of the results."""

import json

import torch

import lipviz
from lipviz.experiments.__main__ import main as cli
from lipviz.viz import compute


def test_cli_writes_a_run_folder_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["run", "lmt", "--out", str(out), "--set", "epochs=1", "n_test=100", "n_val_eval=50"]
    assert cli(args) == 0
    for name in ("config.json", "metrics.csv", "summary.json", "certified.csv", "checkpoint.pt",
                 "model.pt"):  # fmt: skip
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
    args = ["run", "locallip", "--out", str(tmp_path), "--set", "epochs=1", "n_test=40",
            "n_val_eval=20", "estimate_n_iter=5", "eps=(0.0, 0.3)"]  # fmt: skip
    assert cli(args) == 0
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["certificate"] == "local (box and ball), sound"
    for key in ("certified_accuracy", "certified_accuracy_estimate", "certified_accuracy_global",
                "pgd_accuracy"):  # fmt: skip
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

    assert lipviz.config.preset_names("locallip") == ["smoke", "full", "full-cifar10"]
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
