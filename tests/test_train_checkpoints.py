"""Checkpoints: an SOC run's compact checkpoint keeps the network's function bit for bit and
resumes close to the full one; packed entries that do not fit are refused with the file's name;
compactions into one folder at once never clobber each other."""

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

import lipviz
from lipviz.layers.soc import skew_symmetrize
from lipviz.models import create
from lipviz.train import CrossEntropy, TrainConfig, Trainer, compact_checkpoint
from lipviz.train.checkpoints import CheckpointError, load_checkpoint


def _soc_net():
    torch.manual_seed(0)
    return create(
        "lipconvnet",
        depth=5,
        in_channels=1,
        input_size=28,
        init_channels=4,
        activation="maxmin",
        last_layer="lln",
    )


@pytest.fixture
def soc_run(tmp_path):
    ds = lipviz.load_dataset("mnist5k", "train").subset(100)
    val = lipviz.load_dataset("mnist5k", "val").subset(50)
    cfg = TrainConfig(
        epochs=2,
        batch_size=25,
        lr=0.01,
        optimizer="sgd",
        weight_decay=5e-4,
        n_val_eval=50,
        select_on="val_acc",
    )
    folder = tmp_path / "full"
    trainer = Trainer(_soc_net(), CrossEntropy(), cfg, (1, 28, 28), out_dir=folder, progress=False)
    trainer.fit(ds, val)
    return ds, val, cfg, folder, trainer


def test_an_soc_checkpoint_lists_its_skew_filters_and_compacts_them_to_halves(soc_run, tmp_path):
    ds, val, cfg, folder, trainer = soc_run
    socs = [n for n, m in trainer.model.named_modules() if isinstance(m, lipviz.layers.SOC)]
    full = load_checkpoint(folder / "checkpoint.pt")
    assert sorted(full["skew"]) == sorted(f"{n}.weight" for n in socs) and socs
    params = [p for group in trainer.opt.param_groups for p in group["params"]]
    for name, index in full["skew"].items():  # the optimizer index is the parameter's
        assert params[index] is trainer.model.get_parameter(name)
        assert full["optimizer"]["state"][index]["momentum_buffer"].shape == params[index].shape
    info = compact_checkpoint(folder / "checkpoint.pt", tmp_path / "small" / "checkpoint.pt")
    assert info["skew"] == len(socs)
    raw = torch.load(tmp_path / "small" / "checkpoint.pt", weights_only=True)
    assert all(name not in raw["model"] for name in full["skew"])  # stored as halves only
    skew_bytes = sum(full["model"][n].numel() * 4 for n in full["skew"])
    # halves in fp32, their momenta in bf16 (an eighth), instead of fp32 weight + bf16 momentum
    assert info["bytes_after"] < info["bytes_before"] - 0.6 * skew_bytes
    small = load_checkpoint(tmp_path / "small" / "checkpoint.pt")
    x = val.x[:20]
    nets = []
    for state in (full, small):
        net = _soc_net().eval()
        net.load_state_dict(state["model"])
        nets.append(net)
    with torch.no_grad():
        assert torch.equal(nets[0](x), nets[1](x))  # the same function, bit for bit
    for name, index in full["skew"].items():
        momentum = small["optimizer"]["state"][index]["momentum_buffer"]
        expected = skew_symmetrize(full["optimizer"]["state"][index]["momentum_buffer"])
        assert torch.allclose(momentum.float(), expected, rtol=1e-2, atol=1e-6)
        assert torch.equal(small["model"][name], skew_symmetrize(full["model"][name]))


def test_an_soc_run_resumes_from_its_compact_checkpoint_close_to_the_full_one(soc_run, tmp_path):
    ds, val, cfg, folder, _ = soc_run
    small = tmp_path / "small"
    compact_checkpoint(folder / "checkpoint.pt", small / "checkpoint.pt")
    more = dataclasses.replace(cfg, epochs=3)
    runs = {}
    for name, where in (("full", folder), ("small", small)):
        trainer = Trainer(_soc_net(), CrossEntropy(), more, (1, 28, 28), out_dir=where)
        trainer.progress = False
        assert trainer.resume() == 2
        runs[name] = trainer.fit(ds, val)
        assert len(runs[name].history) == 3
    x = val.x[:50]
    with torch.no_grad():
        a, b = (runs[k].model.eval()(x) for k in ("full", "small"))
    assert torch.allclose(a, b, rtol=0.02, atol=2e-3)  # momenta rounded to bf16 only
    assert (a.argmax(1) == b.argmax(1)).float().mean() >= 0.96


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda p: p.update(shapes={"1.weight": [4, 3, 3, 3]}), "square filter"),
        (lambda p: p["model"].update({"1.weight": torch.zeros(5)}), "do not fit"),
        (lambda p: p["shapes"].update({"1.weight": [10**5, 10**5, 3, 3]}), "do not fit"),
        (lambda p: p["optimizer"].update({999: {}}), "of no skew parameter"),
        (lambda p: p.pop("best"), "shapes, model, optimizer and best"),
    ],
    ids=["shape", "size", "huge", "index", "keys"],
)
def test_packed_entries_that_do_not_fit_are_refused(soc_run, tmp_path, spoil, message):
    _, _, _, folder, _ = soc_run
    path = tmp_path / "small.pt"
    compact_checkpoint(folder / "checkpoint.pt", path)
    state = torch.load(path, weights_only=True)
    first = sorted(state["packed"]["shapes"])[0]
    for part in ("model", "shapes"):  # rename the first packed filter to a fixed key
        state["packed"][part]["1.weight"] = state["packed"][part].pop(first)
    state["skew"]["1.weight"] = state["skew"].pop(first)
    spoil(state["packed"])
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=message) as info:
        load_checkpoint(path)
    assert "small.pt" in str(info.value)


def test_compactions_into_one_folder_at_once_leave_one_whole_file_and_no_leftovers(
    soc_run, tmp_path
):
    _, _, _, folder, _ = soc_run
    out = tmp_path / "published"
    with ThreadPoolExecutor(2) as pool:
        sizes = list(
            pool.map(
                lambda _: compact_checkpoint(folder / "checkpoint.pt", out / "checkpoint.pt"),
                range(2),
            )
        )
    assert [p.name for p in out.iterdir()] == ["checkpoint.pt"]
    assert sizes[0]["bytes_after"] == sizes[1]["bytes_after"]
    load_checkpoint(out / "checkpoint.pt")
