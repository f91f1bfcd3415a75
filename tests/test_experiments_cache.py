"""The book's run cache: a hit loads the finished folder, any change of code or config misses."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

import lipviz
from lipviz.experiments import EXPERIMENTS, cache


@pytest.fixture
def counted(monkeypatch):
    """The LMT runner on 200 training images, counting its calls."""
    from lipviz.experiments import lmt

    calls = []
    real = EXPERIMENTS["lmt"].run
    splits = lmt.load_splits

    def small(cfg):
        train, val, test = splits(cfg)
        return train.subset(200), val, test

    monkeypatch.setattr(lmt, "load_splits", small)

    def run(cfg, out_dir=None, *, progress=False, run_id=None):
        calls.append(out_dir)
        return real(cfg, out_dir=out_dir, progress=progress, run_id=run_id)

    monkeypatch.setitem(EXPERIMENTS, "lmt", dataclasses.replace(EXPERIMENTS["lmt"], run=run))
    return calls


def _cfg(**changes):
    return lipviz.resolve("lmt", "smoke", **{"epochs": 1, "n_val_eval": 20, "n_test": 50} | changes)


def test_a_hit_loads_the_same_run_and_a_changed_config_or_code_misses(
    tmp_path, counted, monkeypatch
):
    cfg = _cfg()
    first = cache.cached_run("chapter/smoke", cfg, root=tmp_path)
    folder = first.out_dir
    assert folder == tmp_path / f"chapter/smoke-{cache.run_key(cfg)}"
    assert len(counted) == 1 and (folder / "cache.json").is_file()
    record = json.loads((folder / "cache.json").read_text())
    assert record["code"] == cache.code_fingerprint() and record["experiment"] == "lmt"

    again = cache.cached_run("chapter/smoke", cfg, root=tmp_path)
    assert len(counted) == 1  # loaded, not run
    assert again.summary == first.summary and again.config == cfg
    x = lipviz.load_dataset("mnist5k", "test").subset(20).x
    assert torch.equal(again.model(x), first.model.cpu()(x))
    assert list(again.history.epoch) == list(first.history.epoch)

    looked_up = cache.cached_result("chapter/smoke", cfg, root=tmp_path)
    assert looked_up is not None and looked_up.summary == first.summary
    assert cache.cached_result("chapter/smoke", _cfg(seed=1), root=tmp_path) is None
    assert len(counted) == 1  # looking never trains

    cache.cached_run("chapter/smoke", _cfg(seed=1), root=tmp_path)  # another config
    assert len(counted) == 2
    monkeypatch.setattr(cache, "code_fingerprint", lambda: "0" * 64)  # other code
    assert cache.cached_result("chapter/smoke", cfg, root=tmp_path) is None
    other = cache.cached_run("chapter/smoke", cfg, root=tmp_path)
    assert len(counted) == 3 and other.out_dir != folder


def test_an_edited_or_unfinished_entry_is_never_trusted(tmp_path, counted):
    cfg = _cfg()
    folder = cache.cached_run("c", cfg, root=tmp_path).out_dir
    record = json.loads((folder / "cache.json").read_text())
    record["config"]["epochs"] = 7  # a folder whose record is not this config's
    (folder / "cache.json").write_text(json.dumps(record))
    cache.cached_run("c", cfg, root=tmp_path)
    assert len(counted) == 2
    (folder / "model.pt").unlink()  # a folder without its weights
    cache.cached_run("c", cfg, root=tmp_path)
    assert len(counted) == 3
    (folder / "cache.json").write_text("{not json")
    cache.cached_run("c", cfg, root=tmp_path)
    assert len(counted) == 4


def test_prune_removes_the_entries_of_other_code_only(tmp_path, counted, monkeypatch):
    kept = cache.cached_run("a", _cfg(), root=tmp_path).out_dir
    monkeypatch.setattr(cache, "code_fingerprint", lambda: "0" * 64)
    stale = cache.cached_run("b", _cfg(), root=tmp_path).out_dir
    monkeypatch.undo()
    assert cache.prune_cache(tmp_path) == [stale]
    assert kept.is_dir() and not stale.exists()


def test_the_fingerprint_leaves_out_only_what_cannot_change_a_number():
    assert cache.CODE_EXCLUDED == ("viz", "batch", "cli", "__main__.py")
    with pytest.raises(ValueError, match="publishes none"):
        cache.cached_run("toy", lipviz.resolve("margins2d", "smoke"))


_MODULE = '''"""A module."""

SCALE = 2.0
"""An attribute's docstring."""


class Bound:
    """A class."""

    def value(self, x):  # a comment
        """A method."""
        return SCALE * x["key"]
'''


@pytest.mark.parametrize(
    ("edit", "same"),
    [
        (lambda s: s.replace('"""A method."""', '"""A method, better explained."""'), True),
        (lambda s: s.replace("# a comment", "# another comment"), True),
        (lambda s: s.replace('"""An attribute\'s docstring."""\n', ""), True),
        (lambda s: s.replace('return SCALE * x["key"]', 'return (\n  SCALE * x["key"]\n)'), True),
        (lambda s: s.replace("2.0", "2.5"), False),
        (lambda s: s.replace('"key"', '"other"'), False),
        (lambda s: s.replace("SCALE * x", "SCALE / x"), False),
        (lambda s: s.replace("return", "x = None\n        return"), False),
    ],
    ids=["docstring", "comment", "attribute-doc", "layout", "constant", "string", "op", "stmt"],
)
def test_the_fingerprint_sees_code_but_not_documentation(edit, same):
    edited = edit(_MODULE)
    assert edited != _MODULE
    assert (cache._code_of(edited, "m.py") == cache._code_of(_MODULE, "m.py")) is same
