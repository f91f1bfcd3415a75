"""Loading files is safe: no unpickling of arbitrary objects anywhere in the package, checkpoints
read as plain data with their schema checked, and every committed ``.pt`` file still loads.

A run folder may come from anywhere (a copied GPU run, a download): resuming or reading it must
never run code from it. ``torch.load(..., weights_only=True)`` refuses any pickled global that is
not a tensor or plain container before it is called; what it returns is then checked against
the schema the writer uses.
"""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest
import torch

import lipviz
from lipviz.cli import main as cli
from lipviz.train import CrossEntropy, TrainConfig, Trainer

ROOT = Path(__file__).resolve().parents[1]

# --- the package never unpickles arbitrary objects ---------------------------------------------

# (file, call) pairs that load pickles on purpose, with the reason they are tolerated. An entry
# that no longer matches anything fails the test: remove it when the call goes.
KNOWN: dict = {}  # (path, call) -> why it is safe; empty: no exception is needed


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> the module or object it stands for (``np`` -> ``numpy``,
    ``load`` -> ``torch.load``)."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                names[a.asname or a.name.split(".")[0]] = (
                    a.name if a.asname else a.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                names[a.asname or a.name] = f"{node.module}.{a.name}"
    return names


def _keyword_is(call: ast.Call, name: str, value) -> bool:
    return any(
        k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is value
        for k in call.keywords
    )


UNSAFE = {
    "pickle.load",
    "pickle.loads",
    "pickle.Unpickler",
    "_pickle.load",
    "_pickle.loads",
    "cPickle.load",
    "cPickle.loads",
    "dill.load",
    "dill.loads",
    "joblib.load",
    "pandas.read_pickle",
    "marshal.load",
    "marshal.loads",
    "shelve.open",
    "yaml.unsafe_load",
    "yaml.full_load",
    "torch.serialization.load",
    "numpy.load",
}
BUILTINS = {"eval", "exec"}


def unsafe_loads(source: str) -> list[tuple[int, str]]:
    """``(line, call)`` for every call in ``source`` that can run code from data: any
    ``torch.load`` without a literal ``weights_only=True``, pickle/dill/joblib/marshal/shelve
    loaders, ``numpy.load(..., allow_pickle=True)``, ``yaml.load`` without a safe loader, and the
    builtins ``eval``/``exec``."""
    tree = ast.parse(source)
    aliases = _aliases(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if name is None:
            continue
        head, _, rest = name.partition(".")
        full = aliases.get(head, head) + (f".{rest}" if rest else "")
        if full in ("torch.load", "torch.serialization.load"):
            if not _keyword_is(node, "weights_only", True):
                found.append((node.lineno, full))
        elif full == "numpy.load":
            if any(k.arg == "allow_pickle" for k in node.keywords) and not _keyword_is(
                node, "allow_pickle", False
            ):
                found.append((node.lineno, full))
        elif full == "yaml.load":
            loader = [k for k in node.keywords if k.arg == "Loader"]
            safe = loader and (_dotted(loader[0].value) or "").endswith(
                ("SafeLoader", "CSafeLoader")
            )
            if not safe:
                found.append((node.lineno, full))
        elif full in UNSAFE or (name in BUILTINS and name == full):
            found.append((node.lineno, full))
    return found


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import torch\ntorch.load(p)", ["torch.load"]),
        ("import torch\ntorch.load(p, weights_only=False)", ["torch.load"]),
        ("import torch\nflag = True\ntorch.load(p, weights_only=flag)", ["torch.load"]),
        ("import torch as T\nT.load(p)", ["torch.load"]),
        ("from torch import load\nload(p)", ["torch.load"]),
        ("import torch\ntorch.load(p, map_location='cpu', weights_only=True)", []),
        ("import pickle\npickle.load(f)", ["pickle.load"]),
        ("import pickle as pk\npk.loads(b)", ["pickle.loads"]),
        ("from pickle import Unpickler\nUnpickler(f).load()", ["pickle.Unpickler"]),
        ("import dill\ndill.load(f)", ["dill.load"]),
        ("import joblib\njoblib.load(p)", ["joblib.load"]),
        ("import numpy as np\nnp.load(p, allow_pickle=True)", ["numpy.load"]),
        ("import numpy as np\nnp.load(p)", []),
        ("import yaml\nyaml.load(t)", ["yaml.load"]),
        ("import yaml\nyaml.load(t, Loader=yaml.SafeLoader)", []),
        ("import yaml\nyaml.safe_load(t)", []),
        ("eval(open(p).read())", ["eval"]),
        ("exec(text)", ["exec"]),
        ("model.eval()", []),
        ("import ast\nast.literal_eval(text)", []),
    ],
)
def test_the_scanner_finds_every_unsafe_load(source, expected):
    assert [call for _, call in unsafe_loads(source)] == expected


def test_the_package_never_unpickles_arbitrary_objects():
    found, used = [], set()
    for path in sorted((ROOT / "lipviz").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for line, call in unsafe_loads(path.read_text()):
            if (rel, call) in KNOWN:
                used.add((rel, call))
            else:
                found.append(f"{rel}:{line}: {call}")
    assert not found, "calls that can run code from a file:\n" + "\n".join(found)
    assert used == set(KNOWN), f"stale KNOWN entries (remove them): {set(KNOWN) - used}"


# --- a planted checkpoint is refused without being run -----------------------------------------


class _Payload:
    """Unpickling this runs ``exec``: it creates ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


def _plant(folder: Path, marker: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "checkpoint.pt"
    torch.save({"epoch": 1, "rows": [_Payload(marker)]}, path)
    return path


def test_resuming_refuses_a_planted_checkpoint_without_running_it(tmp_path):
    """Issue 26, defect 5: the checkpoint was unpickled with ``weights_only=False``."""
    marker = tmp_path / "payload-ran"
    out = tmp_path / "run"
    _plant(out, marker)
    data = lipviz.data.make_toy("moons", n=40, seed=0)
    model = lipviz.models.create("toy-mlp", hidden=4, depth=1)
    trainer = Trainer(
        model, CrossEntropy(), TrainConfig(epochs=1), (2,), out_dir=out, progress=False
    )
    with pytest.raises(Exception) as info:  # noqa: PT011 - its type is checked below
        trainer.fit(data, data)
    assert not marker.exists(), "the checkpoint's payload ran"
    from lipviz.train.checkpoints import CheckpointError

    assert isinstance(info.value, CheckpointError), repr(info.value)
    assert "checkpoint.pt was refused by the safe loader (weights_only=True" in str(info.value)


def test_the_command_line_refuses_a_planted_checkpoint_in_its_out_folder(tmp_path, capsys):
    marker = tmp_path / "payload-ran"
    out = tmp_path / "run"
    _plant(out, marker)
    argv = ["run", "lmt", "--out", str(out), "--set", "epochs=1", "n_test=10", "n_val_eval=10"]
    assert cli(argv) == 2
    assert not marker.exists(), "the checkpoint's payload ran"
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert str(out / "checkpoint.pt") in err and "weights_only=True" in err
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt"]  # nothing written


# --- the schema is checked before anything is used ---------------------------------------------


@pytest.fixture
def checkpoint(tmp_path):
    """A real checkpoint (one epoch of a toy run) and what wrote it."""
    data = lipviz.data.make_toy("moons", n=40, seed=0)

    def trainer(**kw):
        model = lipviz.models.create("toy-mlp", hidden=kw.pop("hidden", 4), depth=1, seed=0)
        return Trainer(
            model,
            CrossEntropy(),
            TrainConfig(epochs=1, **kw),
            (2,),
            out_dir=tmp_path,
            progress=False,
        )

    trainer().fit(data, data)
    return tmp_path / "checkpoint.pt", trainer, data


def test_a_checkpoint_is_plain_data(checkpoint):
    from lipviz.train.checkpoints import load_checkpoint

    path, _, _ = checkpoint
    state = torch.load(path, weights_only=True)  # no allow-listed types needed
    assert state["epoch"] == 1 and isinstance(state["scheduler"]["milestones"], dict)
    assert load_checkpoint(path)["train_config"]["epochs"] == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.pop("model"), "it has no model"),
        (lambda s: s.update(epoch="1"), "epoch is '1'"),
        (lambda s: s.update(epoch=-1), "epoch is -1"),
        (lambda s: s["model"].update(extra=[1, 2]), "model maps 'extra' to a list"),
        (lambda s: s.update(rows=[]), "rows is not a list of 1 epoch rows"),
        (lambda s: s["rows"][0].update(epoch=3), "row 1 is not the plain metrics"),
        (lambda s: s["best"].update(epoch=7), "best epoch is 7"),
        (lambda s: s["best"].update(score=("a", "b")), "best score"),
        (lambda s: s.update(train_config=[1]), "train_config is not a dict"),
        (lambda s: s["optimizer"].update(param_groups={}), "optimizer has no state dict"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_a_malformed_checkpoint_is_refused_naming_the_file(checkpoint, change, message):
    from lipviz.train.checkpoints import CheckpointError

    path, trainer, data = checkpoint
    state = torch.load(path, weights_only=True)
    change(state)
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=message) as info:
        trainer().fit(data, data)
    assert str(path) in str(info.value)


def test_a_checkpoint_of_another_architecture_or_config_is_refused(checkpoint):
    from lipviz.train.checkpoints import CheckpointError

    path, trainer, data = checkpoint
    with pytest.raises(CheckpointError, match="another architecture"):
        trainer(hidden=8).fit(data, data)
    with pytest.raises(CheckpointError, match=r"another training config \(lr \(checkpoint"):
        trainer(lr=0.5).fit(data, data)


def test_an_unreadable_checkpoint_is_refused_naming_the_file(tmp_path):
    from lipviz.train.checkpoints import CheckpointError, load_checkpoint

    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="checkpoint.pt"):
        load_checkpoint(path)


# --- published model files ----------------------------------------------------------------------


def _committed_pt_files() -> list[str]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "*.pt"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        out = ""
    files = out.split() or [p.relative_to(ROOT).as_posix() for p in ROOT.glob("book/**/*.pt")]
    return sorted(files)


def test_every_committed_pt_file_loads_as_plain_data():
    files = _committed_pt_files()
    assert files, "no committed .pt file found"
    for rel in files:
        blob = torch.load(ROOT / rel, map_location="cpu", weights_only=True)
        assert isinstance(blob, dict), rel
        if Path(rel).name == "model.pt":  # a published run: load_run rebuilds its model
            run = lipviz.experiments.load_run((ROOT / rel).parent)
            assert run.model is not None and not run.model.training, rel


def test_load_run_refuses_a_planted_model_file(tmp_path):
    import shutil

    folder = tmp_path / "run"
    shutil.copytree(ROOT / "book/results/lmt-full-c2.5", folder)
    marker = tmp_path / "payload-ran"
    torch.save(
        {"experiment": "lmt", "input_shape": [1, 28, 28], "state": _Payload(marker)},
        folder / "model.pt",
    )
    with pytest.raises(ValueError, match=r"model\.pt holds more than tensors"):
        lipviz.experiments.load_run(folder)
    assert not marker.exists()
    torch.save({"experiment": "soc", "input_shape": [1, 28, 28], "state": {}}, folder / "model.pt")
    with pytest.raises(ValueError, match="summary.json says 'lmt'"):
        lipviz.experiments.load_run(folder)
