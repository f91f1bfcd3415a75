"""Run folders reused across builds of the book, keyed on the code and the config.

A chapter that trains a model calls :func:`cached_run` instead of a runner. The run goes to a
folder named after the config *and* the code that computes results; a later build at the same
code and config loads the finished folder (:func:`lipviz.experiments.load_run`) instead of
training and certifying again. Any change to that code (its syntax tree: documentation and
comments do not count), to the config or to torch's version gives a new key, so a stale result
is never shown: the run is made again.

The code is every module of :mod:`lipviz` that can change a trained model or a certificate, that
is, all of it except the visualisation, the batch driver and the command lines
(:data:`CODE_EXCLUDED`). The book keeps its cache in ``book/cache/`` and commits the finished
folders (weights, tables and summary, without the optimiser checkpoint), so that a fresh clone
builds quickly while its code matches; the pages say where a result came from the cache.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import json
import shutil
from pathlib import Path
from typing import cast

import torch
from torch import nn

from .registry import experiment_of
from .results import load_run
from .runs import RunResult, write_json

__all__ = [
    "CODE_EXCLUDED",
    "cached_result",
    "cached_run",
    "code_fingerprint",
    "prune_cache",
    "run_key",
]

CODE_EXCLUDED = ("viz", "batch", "cli", "__main__.py")
"""Parts of :mod:`lipviz` that cannot change a computed number (first path component or file
name), left out of :func:`code_fingerprint`."""

_RECORD = "cache.json"
_KEPT = ("config.json", "summary.json", "certified.csv", "metrics.csv", "model.pt", _RECORD)


class _WithoutStrings(ast.NodeTransformer):
    """Drops statements that are a bare string (docstrings, attribute docstrings): no-ops."""

    def visit_Expr(self, node: ast.Expr) -> ast.Expr | None:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return None
        return node


def _code_of(source: str, name: str) -> bytes:
    """A module's syntax tree without its docstrings, comments and layout: what it computes."""
    tree = _WithoutStrings().visit(ast.parse(source, filename=name))
    return ast.dump(tree).encode()


@functools.cache
def code_fingerprint() -> str:
    r"""The sha256 of the code of every :mod:`lipviz` module that can change a result.

    The code is each module's syntax tree with its docstrings and comments left out
    (:func:`ast.dump` of the parsed source, bare string statements removed), so that editing
    documentation or layout keeps the book's cached runs, while any change to what a module
    computes gives a new fingerprint. A Python version that dumps trees differently gives
    another fingerprint too: the cache then misses and the runs are made again, never stale.

    Returns
    -------
    str
        64 hex digits over the sorted relative paths and syntax trees of ``lipviz/**/*.py``,
        minus :data:`CODE_EXCLUDED`.

    Examples
    --------
    >>> len(code_fingerprint())
    64
    >>> _code_of("'Doc.'\nx = 1  # one", "a.py") == _code_of("x = (\n    1\n)", "a.py")
    True
    >>> _code_of("x = 1", "a.py") == _code_of("x = 2", "a.py")
    False
    """
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        if rel.parts[0] in CODE_EXCLUDED or rel.name in CODE_EXCLUDED:
            continue
        code = _code_of(path.read_text(encoding="utf-8"), rel.as_posix())
        digest.update(rel.as_posix().encode() + b"\0" + code + b"\0")
    return digest.hexdigest()


def _key_inputs(cfg) -> dict:
    return {
        "experiment": experiment_of(cfg).name,
        "config": dataclasses.asdict(cfg),
        "code": code_fingerprint(),
        "torch": torch.__version__,
    }


def run_key(cfg) -> str:
    """The cache key of a run: a hash of its experiment, config, code and torch version.

    Parameters
    ----------
    cfg : dataclass
        An experiment's config (``lipviz.resolve(...)``).

    Returns
    -------
    str
        The first 16 hex digits of the sha256 of those inputs as sorted JSON.

    Examples
    --------
    >>> from lipviz.config import LMTConfig
    >>> run_key(LMTConfig()) == run_key(LMTConfig()), run_key(LMTConfig()) == run_key(
    ...     LMTConfig(epochs=1))
    (True, False)
    """
    blob = json.dumps(_key_inputs(cfg), sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _hit(folder: Path, cfg) -> RunResult | None:
    record = folder / _RECORD
    if not all((folder / name).is_file() for name in _KEPT):
        return None
    try:
        inputs = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    expected = json.loads(json.dumps(_key_inputs(cfg), sort_keys=True, default=str))
    if inputs != expected:  # a prefix collision or a hand-edited folder: never trusted
        return None
    loaded = load_run(folder)
    model = cast(nn.Module, loaded.model)  # _KEPT holds model.pt, so load_run rebuilt it
    return RunResult(cfg, model, loaded.metrics, loaded.certified, loaded.summary, folder)


def cached_result(name: str, cfg, *, root="cache") -> RunResult | None:
    """The finished run :func:`cached_run` would load for ``name`` and ``cfg``, or None.

    Never trains: a chapter whose data may be absent shows a cached run when the code and config
    match one, and otherwise says why it cannot make it (:func:`lipviz.data.missing_data`).

    Parameters
    ----------
    name : str
        The folder name without the key, e.g. ``"chapter-soc/smoke-cifar10"``.
    cfg : LMTConfig, SOCConfig or LocalLipConfig
        The run's config.
    root : str or Path, default "cache"
        The cache folder.

    Returns
    -------
    RunResult or None
        As :func:`cached_run` returns a hit; None when there is none for this code and config.

    Examples
    --------
    >>> import lipviz, tempfile
    >>> cached_result("chapter-soc/smoke", lipviz.resolve("soc"), root=tempfile.mkdtemp()) is None
    True
    """
    return _hit(Path(root) / f"{name}-{run_key(cfg)}", cfg)


def cached_run(name: str, cfg, *, root="cache", progress: bool = False) -> RunResult:
    """Run an experiment into ``root/<name>-<key>``, or load that folder if it is finished.

    Parameters
    ----------
    name : str
        The folder name without the key, e.g. ``"chapter-soc/smoke"``.
    cfg : LMTConfig, SOCConfig or LocalLipConfig
        The run's config; :func:`run_key` of it names the folder.
    root : str or Path, default "cache"
        The cache folder (relative to the working directory; the book's chapters run in
        ``book/``).
    progress : bool, default False
        Show progress bars while training.

    Returns
    -------
    RunResult
        As the experiment's runner returns it. From the cache, ``history`` is the run's
        ``metrics.csv`` and the model is rebuilt from ``model.pt`` (read with
        ``weights_only=True``).

    Raises
    ------
    ValueError
        For a config of an experiment without a trained model (``margins2d``).
    """
    experiment = experiment_of(cfg)
    if experiment.build_model is None:
        msg = f"cached_run caches trained models; experiment {experiment.name!r} publishes none"
        raise ValueError(msg)
    folder = Path(root) / f"{name}-{run_key(cfg)}"
    hit = _hit(folder, cfg)
    if hit is not None:
        return hit
    (folder / _RECORD).unlink(missing_ok=True)  # the record is written last, after the run
    result = experiment.run(cfg, out_dir=folder, progress=progress, run_id=name)
    write_json(folder / _RECORD, _key_inputs(cfg))
    return result


def prune_cache(root) -> list[Path]:
    """Delete the cache folders of other code: those :func:`cached_run` can no longer hit.

    Parameters
    ----------
    root : str or Path
        The cache folder.

    Returns
    -------
    list of Path
        The folders deleted.
    """
    removed = []
    for record in sorted(Path(root).glob(f"**/{_RECORD}")):
        try:
            code = json.loads(record.read_text()).get("code")
        except (OSError, ValueError):
            code = None
        if code != code_fingerprint():
            shutil.rmtree(record.parent)
            removed.append(record.parent)
    return removed
