"""The :class:`Experiment` record: everything lipviz knows about one experiment, registered once.

An experiment is its config class (a frozen dataclass with ``SMOKE`` and ``FULL`` presets), its
runner (``run(cfg, out_dir=None, *, device=None, progress=True)``), the builder that rebuilds
its trained model from a run folder, and the book chapter that teaches it. The command line
(``lipviz run NAME``), :func:`resolve`, :func:`~lipviz.experiments.load_run` and
:func:`~lipviz.experiments.cached_run` all read this one registry, so a new experiment is one
module that ends with :func:`register_experiment`, plus its chapter (CONTRIBUTING.md).

This module imports nothing else of :mod:`lipviz.experiments`: the experiment modules import
it, and :mod:`lipviz.experiments` imports them all, so every built-in experiment is registered
as soon as the package is.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from torch import nn

from ..config import preset_names, resolve_config

__all__ = [
    "EXPERIMENTS",
    "Experiment",
    "ModelBuilder",
    "Runner",
    "experiment_of",
    "get_experiment",
    "register_experiment",
    "resolve",
]


class Runner(Protocol):
    """An experiment's runner: train (or compute), certify once, and write the run folder.

    Parameters
    ----------
    cfg : dataclass
        The experiment's config.
    out_dir : str or Path, optional
        The run folder (resumed when it holds this run's checkpoint).
    device : str, optional
        Where to train.
    progress : bool
        Show progress bars.
    run_id : str, optional
        The id the runner writes into the run's ``summary.json`` (default: the folder's name),
        by which a batch job finds its run.
    """

    def __call__(
        self,
        cfg: Any,
        out_dir: str | Path | None = None,
        *,
        device=None,
        progress: bool = True,
        run_id: str | None = None,
    ) -> Any: ...


ModelBuilder = Callable[[Any, tuple[int, ...]], nn.Module]
"""``build_model(cfg, input_shape)``: the untrained model of a config, as its run builds it."""


@dataclass(frozen=True)
class Experiment:
    """One experiment, as every part of lipviz sees it.

    Attributes
    ----------
    name : str
        The name :func:`resolve`, ``lipviz run`` and the run folders' ``experiment`` field use.
    config : type
        A frozen dataclass with ``SMOKE`` and ``FULL`` presets (any other class-level instance
        is a further preset, e.g. ``FULL_CIFAR10`` is ``"full-cifar10"``).
    run : Runner
        ``run(cfg, out_dir=None, *, device=None, progress=True, run_id=None)``; it returns a
        result with a ``summary`` dict.
    chapter : str
        The book chapter that teaches it (a file stem under ``book/``).
    build_model : ModelBuilder or None
        ``build_model(cfg, input_shape)``, so that :func:`~lipviz.experiments.load_run` can
        rebuild a published model; None for an experiment that publishes no model.
    preflight : callable or None
        ``preflight(cfg)``, called by the command line before anything is loaded or written:
        it raises ValueError for settings that would only fail later (beyond building the model,
        which the command line always tries).

    Examples
    --------
    >>> exp = get_experiment("lmt")
    >>> exp.config.__name__, exp.chapter, exp.presets()
    ('LMTConfig', '03_lipschitz_margin_training', ['smoke', 'full', 'full-long'])
    """

    name: str
    config: type
    run: Runner
    chapter: str
    build_model: ModelBuilder | None = None
    preflight: Callable[[Any], None] | None = None

    def presets(self) -> list[str]:
        """The preset names :meth:`resolve` accepts (``"smoke"``, ``"full"``, then others)."""
        return preset_names(self.config)

    def resolve(self, preset: str = "smoke", **overrides):
        """This experiment's ``preset`` config with ``overrides`` (see :func:`resolve`)."""
        return resolve_config(self.config, preset, **overrides)


EXPERIMENTS: dict[str, Experiment] = {}
"""Every registered experiment, by name (the built-in ones: lmt, locallip, margins2d, soc)."""


def register_experiment(experiment: Experiment) -> Experiment:
    """Register ``experiment`` under its name and return it.

    Parameters
    ----------
    experiment : Experiment
        The record. Its config class must not belong to another experiment.

    Returns
    -------
    Experiment
        ``experiment``, unchanged.

    Raises
    ------
    ValueError
        When another experiment already has this name or this config class (a run folder's
        config must name one experiment).
    """
    for other in EXPERIMENTS.values():
        if other.name == experiment.name or other.config is experiment.config:
            if other == experiment:  # a module imported twice (importlib.reload)
                break
            msg = (
                f"experiment {experiment.name!r} ({experiment.config.__name__}) clashes with the "
                f"registered {other.name!r} ({other.config.__name__})"
            )
            raise ValueError(msg)
    EXPERIMENTS[experiment.name] = experiment
    return experiment


def _suggest(name: str, known) -> str:
    close = difflib.get_close_matches(str(name), list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def get_experiment(name: str) -> Experiment:
    """The registered experiment called ``name``.

    Parameters
    ----------
    name : str
        E.g. ``"lmt"``.

    Returns
    -------
    Experiment

    Raises
    ------
    ValueError
        For an unknown name, with the closest known one.

    Examples
    --------
    >>> get_experiment("lmtt")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Unknown experiment 'lmtt' (did you mean 'lmt'?). Known: lmt, locallip, ...
    """
    if name not in EXPERIMENTS:
        known = ", ".join(sorted(EXPERIMENTS))
        msg = f"Unknown experiment {name!r}{_suggest(name, EXPERIMENTS)}. Known: {known}"
        raise ValueError(msg)
    return EXPERIMENTS[name]


def experiment_of(cfg) -> Experiment:
    """The experiment whose config class ``cfg`` is an instance of (exactly, not a subclass).

    Parameters
    ----------
    cfg : dataclass
        A config, e.g. ``lipviz.resolve("lmt")``.

    Returns
    -------
    Experiment

    Raises
    ------
    TypeError
        When no registered experiment has this config class.

    Examples
    --------
    >>> from lipviz.config import LMTConfig
    >>> experiment_of(LMTConfig()).name
    'lmt'
    """
    for experiment in EXPERIMENTS.values():
        if type(cfg) is experiment.config:
            return experiment
    known = ", ".join(e.config.__name__ for e in EXPERIMENTS.values())
    msg = f"{type(cfg).__name__} is not an experiment config ({known})"
    raise TypeError(msg)


def resolve(experiment: str, preset: str = "smoke", **overrides):
    """The ``preset`` config of ``experiment`` with ``overrides`` applied.

    ``None`` overrides are ignored, so a parameters cell can leave values unset.

    Parameters
    ----------
    experiment : str
        A registered experiment: ``"margins2d"``, ``"lmt"``, ``"soc"`` or ``"locallip"``.
    preset : str
        ``"smoke"`` (CPU, the default), ``"full"``, or another preset of the config class
        (``"full-cifar10"`` for ``"locallip"``); case-insensitive.
    **overrides
        Field values replacing the preset's; ``None`` values are skipped.

    Returns
    -------
    Margins2DConfig or LMTConfig or SOCConfig or LocalLipConfig
        A new frozen config (the presets are not modified).

    Raises
    ------
    ValueError
        For an unknown experiment, preset or field name (with the closest known name), a
        value of the wrong type (a boolean field also takes the strings "true" and "false";
        see the examples) or out of range (the config's own checks, e.g. ``n_test >= 1``).

    Examples
    --------
    >>> resolve("margins2d", "smoke", epochs=5).epochs
    5
    >>> resolve("lmt", "full", kappa_clip="false").kappa_clip
    False
    >>> resolve("lmt", "smoke", kappa_clip="yes")
    Traceback (most recent call last):
    ...
    ValueError: LMTConfig.kappa_clip expects bool, got 'yes'
    >>> resolve("lmt", "smoke", epoch=3)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Unknown LMTConfig fields ['epoch'] (did you mean 'epochs'?). Valid: ...
    >>> resolve("lmt", "smoke", n_test=0)
    Traceback (most recent call last):
    ...
    ValueError: LMTConfig.n_test must be >= 1, got 0
    """
    return get_experiment(experiment).resolve(preset, **overrides)
