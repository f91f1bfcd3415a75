"""Trainer checkpoints: read back as plain data (:func:`load_checkpoint`, ``weights_only``),
their schema checked (:func:`check_checkpoint`), and compacted to commit a long run's state
(:func:`compact_checkpoint`)."""

from __future__ import annotations

import contextlib
import numbers
import os
import pickle
import tempfile
import zipfile
from collections import Counter
from pathlib import Path
from typing import NoReturn

import torch

from ..functional.skew import pack_skew, skew_half_size, unpack_skew

__all__ = [
    "CHECKPOINT_KEYS",
    "CheckpointError",
    "check_checkpoint",
    "compact_checkpoint",
    "load_checkpoint",
]


class CheckpointError(ValueError):
    """A run folder's ``checkpoint.pt`` that cannot be resumed: unsafe, malformed, or another run's.

    The message names the file and what is wrong; nothing in a refused file is executed.

    Parameters
    ----------
    message : str
        What is wrong, naming the file.
    """


#: the entries of a checkpoint written by :class:`~lipviz.train.Trainer`
CHECKPOINT_KEYS = (
    "epoch",
    "model",
    "optimizer",
    "scheduler",
    "lip",
    "rows",
    "best",
    "train_config",
)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _plain_value(value) -> bool:
    return value is None or isinstance(value, (bool, numbers.Real, str))


def check_checkpoint(state, path) -> None:
    """Raise a :class:`CheckpointError` unless ``state`` has the schema the Trainer writes.

    The schema: ``epoch`` an int >= 0; ``model`` a state dict (str -> Tensor); ``optimizer`` a
    dict with ``state`` (int -> dict) and ``param_groups`` (list of dicts); ``scheduler`` a
    dict; ``lip`` None or a state dict; ``rows`` one dict of plain values per epoch done
    (``rows[i]["epoch"] == i + 1``); ``skew`` (optional) the parameters used only through
    their skew-symmetric part, name -> optimizer index (:func:`compact_checkpoint`); ``best`` a
    dict with ``score`` (None or two numbers),
    ``epoch`` (0 ..  ``epoch``) and ``state`` (None or a state dict; None with ``epoch`` equal
    to the checkpoint's: the model's own state, :func:`compact_checkpoint`); ``train_config`` a dict
    with str keys; ``run_config`` (optional) a dict with str keys; ``rng`` (optional) a Tensor.

    Parameters
    ----------
    state : object
        What :func:`torch.load` returned.
    path : str or Path
        The file, for the message.

    Raises
    ------
    CheckpointError
        ``"<path> is not a lipviz training checkpoint: <what is wrong>"``.

    Examples
    --------
    >>> check_checkpoint([], "ck.pt")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lipviz.train.checkpoints.CheckpointError: ck.pt is not a lipviz training checkpoint: it holds...
    """

    def bad(what: str):
        msg = f"{path} is not a lipviz training checkpoint: {what}"
        raise CheckpointError(msg)

    def state_dict(value, name: str) -> None:
        if not isinstance(value, dict):
            bad(f"{name} is a {type(value).__name__}, not a state dict")
        for k, v in value.items():
            if not isinstance(k, str) or not isinstance(v, torch.Tensor):
                bad(f"{name} maps {k!r} to a {type(v).__name__}, not a tensor")

    def str_dict(value, name: str) -> None:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            bad(f"{name} is not a dict with str keys")

    if not isinstance(state, dict):
        bad(f"it holds a {type(state).__name__}, not a dict")
    missing = [k for k in CHECKPOINT_KEYS if k not in state]
    if missing:
        bad(f"it has no {', '.join(missing)}")
    epoch = state["epoch"]
    if not _is_int(epoch) or epoch < 0:
        bad(f"epoch is {epoch!r}, not an int >= 0")
    state_dict(state["model"], "model")
    if state["lip"] is not None:
        state_dict(state["lip"], "lip")
    opt = state["optimizer"]
    str_dict(opt, "optimizer")
    if not isinstance(opt.get("state"), dict) or not isinstance(opt.get("param_groups"), list):
        bad("optimizer has no state dict and param_groups list")
    for key, value in opt["state"].items():
        if not _is_int(key) or not isinstance(value, dict):
            bad(f"optimizer state {key!r} is not an int -> dict entry")
        if not all(isinstance(v, torch.Tensor) or _plain_value(v) for v in value.values()):
            bad(f"optimizer state {key!r} holds something other than tensors and numbers")
    if not all(
        isinstance(g, dict) and isinstance(g.get("params"), list) for g in opt["param_groups"]
    ):
        bad("optimizer param_groups are not dicts with a params list")
    str_dict(state["scheduler"], "scheduler")
    rows = state["rows"]
    if not isinstance(rows, list) or len(rows) != epoch:
        bad(f"rows is not a list of {epoch} epoch rows")
    for i, row in enumerate(rows, start=1):
        str_dict(row, f"row {i}")
        if row.get("epoch") != i or not all(_plain_value(v) for v in row.values()):
            bad(f"row {i} is not the plain metrics of epoch {i}")
    best = state["best"]
    str_dict(best, "best")
    if set(best) != {"score", "epoch", "state"}:
        bad(f"best has keys {sorted(best)}, not epoch, score and state")
    score = best["score"]
    if score is not None and not (
        isinstance(score, (tuple, list))
        and len(score) == 2
        and all(isinstance(s, numbers.Real) for s in score)
    ):
        bad(f"best score is {score!r}, not two numbers")
    if not _is_int(best["epoch"]) or not 0 <= best["epoch"] <= epoch:
        bad(f"best epoch is {best['epoch']!r}, not an int in 0..{epoch}")
    if best["state"] is not None:
        state_dict(best["state"], "best state")
    str_dict(state["train_config"], "train_config")
    if "run_config" in state:
        str_dict(state["run_config"], "run_config")
    if "rng" in state and not isinstance(state["rng"], torch.Tensor):
        bad("rng is not a tensor")
    skew = state.get("skew", {})
    if not isinstance(skew, dict) or not all(
        isinstance(k, str) and _is_int(v) for k, v in skew.items()
    ):
        bad("skew is not a dict from parameter names to optimizer indices")


#: optimizer entries that are linear in the gradient (skew for a skew-only parameter)
_SKEW_MOMENTS = ("momentum_buffer", "exp_avg")


def _unpack(state: dict, path) -> None:
    """Rebuild, in place, the entries :func:`compact_checkpoint` stored as halves."""

    def bad(what: str) -> NoReturn:
        msg = f"{path} is not a lipviz training checkpoint: its packed entries {what}"
        raise CheckpointError(msg)

    packed = state.pop("packed")
    if not isinstance(packed, dict) or set(packed) != {"shapes", "model", "optimizer", "best"}:
        bad("are not a dict of shapes, model, optimizer and best")
    shapes = packed["shapes"]
    if not isinstance(shapes, dict) or not all(
        isinstance(k, str) and isinstance(v, (list, tuple)) for k, v in shapes.items()
    ):
        bad("are not keyed by parameter name with a shape each")
    for shape in shapes.values():
        try:
            skew_half_size(shape)
        except ValueError as err:
            bad(f"name a shape that is not a square filter with an odd kernel ({err})")

    def rebuild(name, half, where):
        if name not in shapes or not isinstance(half, torch.Tensor):
            bad(f"hold {name!r} in {where} without a shape or as a {type(half).__name__}")
        try:
            return unpack_skew(half, shapes[name])
        except ValueError as err:
            bad(f"do not fit: {err}")

    for part in ("model", "best", "optimizer"):
        if not isinstance(packed[part], dict):
            bad(f"hold a {type(packed[part]).__name__} as {part}")
    model, best = state.get("model"), state.get("best")
    if not isinstance(model, dict) or not isinstance(best, dict):
        bad("come without a model and best entry")
    for name, half in packed["model"].items():
        model[name] = rebuild(name, half, "model")
    if packed["best"]:
        if not isinstance(best.get("state"), dict):
            bad("hold a best state, but the checkpoint has none")
        for name, half in packed["best"].items():
            best["state"][name] = rebuild(name, half, "best")
    opt = state.get("optimizer")
    if not isinstance(opt, dict) or not isinstance(opt.get("state"), dict):
        bad("come without an optimizer state")
    names = (
        {v: k for k, v in state.get("skew", {}).items()}
        if isinstance(state.get("skew"), dict)
        else {}
    )
    for index, entry in packed["optimizer"].items():
        if index not in names or not isinstance(entry, dict):
            bad(f"hold optimizer entry {index!r} of no skew parameter")
        target = opt["state"].setdefault(index, {})
        for key, half in entry.items():
            target[key] = rebuild(names[index], half, "optimizer")


def _safe_types():
    """Checkpoints written before the scheduler's milestones were saved as a dict hold a
    ``collections.Counter`` (a plain dict subclass), which older torch versions refuse."""
    allow = getattr(torch.serialization, "safe_globals", None)
    return allow([Counter]) if allow is not None else contextlib.nullcontext()


def _why(err: Exception) -> str:
    """The one informative sentence of torch's refusal, e.g. ``Unsupported global: GLOBAL
    builtins.exec was not an allowed global by default``."""
    text = " ".join(str(err).split())
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1]
    return text.split(" Please ")[0].split(" Check the documentation")[0].strip().rstrip(".")


def load_checkpoint(path, map_location=None) -> dict:
    """Read a Trainer checkpoint as plain data (``weights_only=True``) and check its schema.

    A file that holds anything but tensors and plain containers (a pickled object whose
    loading would run code) is refused without being run.

    Parameters
    ----------
    path : str or Path
        The ``checkpoint.pt`` file.
    map_location : str or torch.device, optional
        Where its tensors go (:func:`torch.load`).

    Returns
    -------
    dict
        The checkpoint (see :func:`check_checkpoint` for its entries).

    Raises
    ------
    CheckpointError
        If the file cannot be read safely, or its contents are not a Trainer checkpoint; the
        message names the file.
    """
    path = Path(path)
    try:
        with _safe_types():
            state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        msg = (
            f"{path} was refused by the safe loader (weights_only=True: {_why(err)}); nothing "
            "in it was run. A lipviz checkpoint holds tensors and plain data only: delete the "
            "file, or use a new out_dir"
        )
        raise CheckpointError(msg) from None
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        first = (str(err).strip().splitlines() or [""])[0]
        msg = f"{path} is not a readable checkpoint ({type(err).__name__}: {first})"
        raise CheckpointError(msg) from err
    if isinstance(state, dict) and "packed" in state:
        _unpack(state, path)
    check_checkpoint(state, path)
    return state


def compact_checkpoint(src, dst) -> dict:
    r"""Write a smaller copy of a Trainer checkpoint, to commit a long run's state (a repository
    keeps files of 20 MB at most).

    The model stays fp32 (training continues from exactly these weights). The optimizer's
    moment estimates (Adam's moments, SGD's momentum) are stored in bfloat16 (same exponent
    range as fp32, 8 significant bits: on resume they are widened back to fp32, so the run
    continues from moments rounded by at most 2^-8 relative, not bit for bit). The selected
    (best) state is dropped when it is the checkpoint's own epoch (the Trainer then takes the
    model's state as the best) and stored in bfloat16 otherwise; a model certified from it is
    certified as stored. The file's zip entries are deflated.

    Parameters a layer uses only through their skew-symmetric part (an SOC filter
    :math:`W` enters as :math:`\tfrac12 (W - W^*)`; the Trainer lists them under ``skew``)
    are stored as that part's independent half (:func:`~lipviz.functional.pack_skew`), and so
    are their first moments: the symmetric part of such a weight changes nothing the network
    computes (the filter is bit for bit the same), its gradient is skew, and only weight decay
    and the moments' own symmetric parts act on it, never on the skew part under SGD (under
    Adam, whose update divides entrywise, dropping them perturbs the resumed steps slightly, as
    the moments' rounding does). A resumed SGD run therefore continues the same function's training
    (up to the moments' rounding) with half the bytes for these tensors; :func:`load_checkpoint`
    rebuilds them. This is what makes an SOC network at ``init_channels`` 16 fit: measured, a
    ``cpu-cifar10-hh-cr`` checkpoint of 50.1 MB becomes 11.1 MB when the selected state is the
    last epoch's (about 4 MB more otherwise), where fp32 weights and bfloat16 moments alone
    take about 25 MB.

    Parameters
    ----------
    src : str or Path
        A checkpoint written by :class:`~lipviz.train.Trainer` (read with
        :func:`load_checkpoint`: plain data only).
    dst : str or Path
        The compact copy (written atomically).

    Returns
    -------
    dict
        ``{"bytes_before", "bytes_after", "best": "model" | "bfloat16" | "none", "skew"}``
        (``skew``: how many parameters were stored as halves).
    """
    src, dst = Path(src), Path(dst)
    state = load_checkpoint(src, map_location="cpu")
    skew = state.get("skew", {})
    packed: dict = {"shapes": {}, "model": {}, "optimizer": {}, "best": {}}
    for name, index in skew.items():
        weight = state["model"][name]
        packed["shapes"][name] = list(weight.shape)
        packed["model"][name] = pack_skew(state["model"].pop(name))
        entry = state["optimizer"]["state"].get(index, {})
        for key in _SKEW_MOMENTS:
            if isinstance(entry.get(key), torch.Tensor) and entry[key].shape == weight.shape:
                packed["optimizer"].setdefault(index, {})[key] = pack_skew(entry.pop(key)).to(
                    torch.bfloat16
                )
    for entry in state["optimizer"]["state"].values():
        for key, value in entry.items():
            if isinstance(value, torch.Tensor) and value.is_floating_point() and key != "step":
                entry[key] = value.to(torch.bfloat16)
    best = state["best"]
    kind = "none"
    if best["state"] is not None and best["epoch"] == state["epoch"]:
        best["state"], kind = None, "model"
    elif best["state"] is not None:
        for name in skew:
            packed["best"][name] = pack_skew(best["state"].pop(name)).to(torch.bfloat16)
        best["state"] = {
            k: v.to(torch.bfloat16) if v.is_floating_point() else v
            for k, v in best["state"].items()
        }
        kind = "bfloat16"
    if skew:
        state["packed"] = packed
    dst.parent.mkdir(parents=True, exist_ok=True)
    # unique temporary names beside dst: two processes compacting into one folder never write
    # into each other's files, and dst is replaced atomically by a complete archive
    fd, plain_name = tempfile.mkstemp(dir=dst.parent, prefix=f".{dst.name}.", suffix=".tmp")
    os.close(fd)
    plain_path = Path(plain_name)
    deflated = plain_path.with_suffix(".deflated")
    try:
        torch.save(state, plain_path)
        # the same archive with its entries deflated (torch.load reads either): about 15 %
        # smaller
        with (
            zipfile.ZipFile(plain_path) as plain,
            zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as out,
        ):
            for info in plain.infolist():
                out.writestr(info.filename, plain.read(info.filename))
        deflated.replace(dst)
    finally:
        plain_path.unlink(missing_ok=True)
        deflated.unlink(missing_ok=True)
    return {
        "bytes_before": src.stat().st_size,
        "bytes_after": dst.stat().st_size,
        "best": kind,
        "skew": len(skew),
    }
