"""LMT and its baselines on MNIST-like data, writing a run folder.

``run_lmt(cfg, out_dir)`` trains (resuming from ``out_dir/checkpoint.pt`` if present), selects
the model on the validation split, then certifies the test split once with a sound bound. The run
folder holds ``config.json``, ``metrics.csv``, ``checkpoint.pt``, ``certified.csv`` and
``summary.json``.
"""

from __future__ import annotations

import functools

from ..attacks import pgd_l2
from ..config import LMTConfig
from ..models import create
from ..train import LMT, Adversarial, CrossEntropy, SpectralRegularized, TrainConfig
from .registry import Experiment, register_experiment
from .runs import RunResult, load_splits, train_and_certify

__all__ = ["build_model", "make_objective", "run_lmt", "EXPERIMENT"]


def build_model(cfg: LMTConfig, input_shape):
    """The model of ``cfg`` for inputs of ``input_shape`` (its initial weights), as the run
    builds it; :func:`lipviz.experiments.load_run` rebuilds a published model with it.

    Parameters
    ----------
    cfg : LMTConfig
        The run's settings.
    input_shape : tuple of int
        ``(C, H, W)`` of the dataset.

    Returns
    -------
    nn.Module
        The untrained model.

    Raises
    ------
    ValueError
        For an unknown model, or an ``activation`` given for a model that takes none.
    """
    extra = {} if cfg.activation is None else {"activation": cfg.activation}
    try:
        return create(
            cfg.model,
            in_channels=input_shape[0],
            input_size=input_shape[-1],
            seed=cfg.seed,
            **extra,
        )
    except TypeError as err:
        if not extra or "activation" not in str(err):
            raise
        msg = (
            f"LMTConfig.activation is {cfg.activation!r}, but model {cfg.model!r} takes no "
            "activation (leave it None)"
        )
        raise ValueError(msg) from None


def make_objective(cfg: LMTConfig):
    """The training objective named by ``cfg.method``.

    Parameters
    ----------
    cfg : LMTConfig
        ``method`` is ``"standard"``, ``"lmt"``, ``"snr"`` or ``"pgd"``; ``c``, ``lmt_form``,
        ``kappa_clip``, ``warmup_epochs``, ``snr_beta``, ``adv_eps`` and ``adv_steps``
        configure the objective.

    Returns
    -------
    CrossEntropy, LMT, SpectralRegularized or Adversarial
        Plain cross-entropy for ``"standard"``,
        :class:`~lipviz.train.objectives.LMT` (Tsuzuku, Sato and Sugiyama, NeurIPS 2018) for
        ``"lmt"``, :class:`~lipviz.train.objectives.SpectralRegularized` (Yoshida and Miyato,
        2017) for ``"snr"``, :class:`~lipviz.train.objectives.Adversarial` with
        :func:`lipviz.attacks.pgd_l2` (Madry et al., ICLR 2018) for ``"pgd"``.

    Raises
    ------
    ValueError
        For an unknown method.

    Examples
    --------
    >>> make_objective(LMTConfig(method="snr", snr_beta=0.1))
    SpectralRegularized(beta=0.1)
    """
    if cfg.method == "standard":
        return CrossEntropy()
    if cfg.method == "lmt":
        return LMT(
            c=cfg.c, form=cfg.lmt_form, kappa_clip=cfg.kappa_clip, warmup_epochs=cfg.warmup_epochs
        )
    if cfg.method == "snr":
        return SpectralRegularized(beta=cfg.snr_beta)
    if cfg.method == "pgd":
        attack = functools.partial(pgd_l2, steps=cfg.adv_steps)
        return Adversarial(attack, eps=cfg.adv_eps, warmup_epochs=cfg.warmup_epochs)
    msg = f"Unknown method {cfg.method!r}; use 'standard', 'lmt', 'snr' or 'pgd'"
    raise ValueError(msg)


def run_lmt(
    cfg: LMTConfig, out_dir=None, *, device=None, progress: bool = True, run_id: str | None = None
) -> RunResult:
    """Train, select on validation, certify the test split; see the module docstring.

    The data are ``cfg.dataset``'s train and validation splits (seeded by ``cfg.seed``) and the
    first ``cfg.n_test`` test examples; the model is ``create(cfg.model)``. The ``"standard"``
    and ``"pgd"`` methods are selected on validation accuracy, the others on validation
    certified accuracy at ``cfg.select_eps``. The test split is certified at every ``cfg.eps`` by
    :func:`~lipviz.experiments.runs.train_and_certify`.

    Parameters
    ----------
    cfg : LMTConfig
        The run's settings (``lipviz.resolve("lmt", "smoke")``).
    out_dir : str or Path, optional
        The run folder; a run already there is resumed from its checkpoint.
    device : str, optional
        Default: ``"cuda"`` when available, else ``"cpu"``.
    progress : bool, default True
        Show progress bars.
    run_id : str, optional
        The id written into the run's ``summary.json`` (``run_id``), by which a batch job
        finds it; default the run folder's name.

    Returns
    -------
    RunResult
        The config, the selected model, the training history, the certified-accuracy table,
        the summary and the run folder.

    Raises
    ------
    ValueError
        For an unknown method (:func:`make_objective`).
    """
    train, val, test = load_splits(cfg)
    model = build_model(cfg, train.input_shape)
    # a certified-training method is selected on validation certified accuracy; the standard
    # baseline on validation accuracy (what its users would do)
    select_on = "val_acc" if cfg.method in ("standard", "pgd") else "val_cert_acc"
    tcfg = TrainConfig.from_config(cfg, select_on=select_on)
    return train_and_certify(
        cfg,
        model,
        make_objective(cfg),
        tcfg,
        (train, val, test),
        method=cfg.method,
        out_dir=out_dir,
        device=device,
        progress=progress,
        run_id=run_id,
    )


EXPERIMENT = register_experiment(
    Experiment(
        name="lmt",
        config=LMTConfig,
        run=run_lmt,
        chapter="03_lipschitz_margin_training",
        build_model=build_model,
        preflight=make_objective,
    )
)
