"""Frozen presets (lipviz.config): SMOKE/FULL, resolve and its errors."""

import dataclasses

import pytest

from lipviz import resolve
from lipviz.config import Margins2DConfig


def test_presets_are_frozen_and_resolvable():
    smoke = resolve("margins2d")
    assert smoke == Margins2DConfig.SMOKE
    assert resolve("margins2d", "full") == Margins2DConfig.FULL
    assert resolve("margins2d", "smoke", epochs=None) == smoke  # None keeps the preset
    with pytest.raises(dataclasses.FrozenInstanceError):
        smoke.epochs = 3
    with pytest.raises(ValueError, match="preset"):
        resolve("margins2d", "huge")
    with pytest.raises(ValueError, match="Unknown Margins2DConfig fields"):
        resolve("margins2d", epoch=3)
    with pytest.raises(ValueError, match="experiment"):
        resolve("nope")


@pytest.mark.parametrize(
    ("field", "given", "expected"),
    [
        ("kappa_clip", "false", False),  # the command line passes text
        ("kappa_clip", "TRUE", True),
        ("kappa_clip", True, True),
        ("c", 2, 2.0),
        ("epochs", 4.0, 4),
        ("eps", [0.0, 1.58], (0.0, 1.58)),
        ("lr_milestones", (0.5,), (0.5,)),
    ],
)
def test_overrides_take_the_preset_types(field, given, expected):
    value = getattr(resolve("lmt", "smoke", **{field: given}), field)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("field", "given"),
    [
        ("kappa_clip", "yes"),
        ("kappa_clip", 1),
        ("epochs", 2.5),
        ("epochs", "3"),
        ("c", "2"),
        ("eps", 1.58),
        ("dataset", 3),
    ],
)
def test_overrides_of_the_wrong_type_name_the_field(field, given):
    with pytest.raises(ValueError, match=rf"LMTConfig\.{field} expects"):
        resolve("lmt", "smoke", **{field: given})


# --- range checks: every config refuses meaningless values, on one line naming the field -------


@pytest.mark.parametrize(
    ("experiment", "field", "value", "message"),
    [
        ("lmt", "n_test", 0, "n_test must be >= 1, got 0"),
        ("lmt", "epochs", 0, "epochs must be >= 1"),
        ("lmt", "batch_size", -5, "batch_size must be >= 1"),
        ("lmt", "n_val_eval", 0, "n_val_eval must be >= 1"),
        ("lmt", "seed", -1, "seed must be >= 0"),
        ("lmt", "lr", 0.0, "lr must be finite and > 0"),
        ("lmt", "lr", float("nan"), "lr must be finite and > 0, got nan"),
        ("lmt", "lr", float("inf"), "lr must be finite and > 0, got inf"),
        ("lmt", "c", -1.0, "c must be a finite radius >= 0"),
        ("lmt", "warmup_epochs", -1.0, "warmup_epochs must be finite and >= 0"),
        ("lmt", "snr_beta", float("nan"), "snr_beta must be finite and >= 0"),
        ("lmt", "lr_milestones", (0.0,), r"lr_milestones must hold fractions .* \(0, 1\]"),
        ("lmt", "lr_milestones", (0.5, 1.5), "lr_milestones must hold fractions"),
        ("lmt", "lr_milestones", (0.75, 0.5), "lr_milestones must be increasing"),
        ("lmt", "eps", (), "eps must hold at least one radius"),
        ("lmt", "eps", (0.0, -0.5), "eps must be a finite radius >= 0"),
        ("lmt", "eps", (0.5, 0.25), "eps must be increasing"),
        ("lmt", "eps", (0.0, 0.5, 0.5), "eps must be increasing"),
        ("lmt", "method", "LMT", "method must be one of 'standard', 'lmt', 'snr'"),
        ("lmt", "dataset", "mnist-5k", "dataset must be one of"),
        ("soc", "depth", 7, "depth must be one of 5, 10"),
        ("soc", "momentum", 1.0, r"momentum must be in \[0, 1\)"),
        ("soc", "weight_decay", -1e-4, "weight_decay must be finite and >= 0"),
        ("soc", "init_channels", 0, "init_channels must be >= 1"),
        ("soc", "amp", "fp8", "amp must be one of"),
        ("locallip", "n_iter", 0, "n_iter must be >= 1"),
        ("locallip", "estimate_n_iter", 0, "estimate_n_iter must be >= 1"),
        ("locallip", "rampup_epochs", -1.0, "rampup_epochs must be finite and >= 0"),
        ("locallip", "train_eps", float("inf"), "train_eps must be a finite radius"),
        ("margins2d", "n_show", 0, "n_show must be >= 2"),
        ("margins2d", "n_val", 1, "n_val must be >= 2"),
        ("margins2d", "n_train", 1, "n_train must be >= 2"),
        ("margins2d", "hidden", 0, "hidden must be >= 1"),
        ("margins2d", "temperature", 0.0, "temperature must be finite and > 0"),
        ("margins2d", "grid_resolution", 1, "grid_resolution must be >= 2"),
        ("margins2d", "toy", "moon", "toy must be one of 'moons'"),
    ],
)
def test_out_of_range_values_are_refused_naming_the_field(experiment, field, value, message):
    cls = type(resolve(experiment))
    with pytest.raises(ValueError, match=rf"^{cls.__name__}\.{message}") as info:
        resolve(experiment, "smoke", **{field: value})
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match=message):  # a direct construction is checked too
        cls(**{field: value})


def test_zero_is_allowed_where_it_means_something():
    cfg = resolve("locallip", "smoke", sparsity=0.0, warmup_epochs=0.0, rampup_epochs=0.0)
    assert cfg.sparsity == 0.0
    assert resolve("soc", "smoke", gamma=0.0, weight_decay=0.0, momentum=0.0).gamma == 0.0
    assert resolve("lmt", "smoke", c=0.0, warmup_epochs=0.0, select_eps=0.0, seed=0).c == 0.0
    assert resolve("lmt", "smoke", lr_milestones=(0.5, 1.0)).lr_milestones == (0.5, 1.0)


@pytest.mark.parametrize(
    ("experiment", "preset", "field", "value", "box"),
    [
        ("lmt", "smoke", "eps", (0.0, 36.0), "mnist5k's input box [0, 1]^784"),
        ("lmt", "full", "select_eps", 255.0, "mnist's input box"),
        ("soc", "full", "eps", (0.0, 72.0), "cifar10-jpeg's input box [0, 1]^3072"),
        ("locallip", "full-cifar10", "train_eps", 60.0, "cifar10's input box"),
    ],
)
def test_radii_in_pixel_units_are_refused(experiment, preset, field, value, box):
    with pytest.raises(ValueError, match="radii are in input units") as info:
        resolve(experiment, preset, **{field: value})
    assert box in str(info.value) and "36/255" in str(info.value)
    # the largest radius that still means something: the diameter of the box
    assert resolve("lmt", "smoke", eps=(0.0, 28.0)).eps == (0.0, 28.0)


def test_every_dataset_a_config_accepts_is_a_dataset_with_that_input_box():
    from lipviz.config import DATASET_SHAPES
    from lipviz.data import available_datasets, load_dataset

    assert sorted(DATASET_SHAPES) == sorted(available_datasets())
    assert DATASET_SHAPES["mnist5k"] == load_dataset("mnist5k", "test").input_shape


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"epoch": 3}, r"Unknown LMTConfig fields \['epoch'\] \(did you mean 'epochs'\?\)"),
        ({"n_tset": 3}, r"did you mean 'n_test'\?"),
        ({"epoch": 3, "lrr": 1}, r"Unknown LMTConfig fields \['epoch', 'lrr'\]\. Valid"),
    ],
)
def test_unknown_fields_are_refused_with_the_closest_name(overrides, message):
    with pytest.raises(ValueError, match=message):
        resolve("lmt", "smoke", **overrides)


def test_unknown_experiments_and_presets_suggest_the_closest_name():
    with pytest.raises(ValueError, match=r"Unknown experiment 'lmtt' \(did you mean 'lmt'\?\)"):
        resolve("lmtt")
    with pytest.raises(ValueError, match=r"preset 'ful' of SOCConfig \(did you mean 'full'"):
        resolve("soc", "ful")


@pytest.mark.parametrize(
    ("field", "given"),
    [
        ("epochs", True),
        ("n_test", False),
        ("c", True),
        ("eps", (0.0, True)),
        ("activation", 3),
        ("eps", (0.0, "a")),
    ],
)
def test_booleans_are_not_numbers_and_optional_fields_keep_their_type(field, given):
    with pytest.raises(ValueError, match=rf"LMTConfig\.{field} expects"):
        resolve("lmt", "smoke", **{field: given})


def test_optional_and_tuple_fields_take_their_declared_types():
    assert resolve("lmt", "smoke", activation="maxmin", model="4c3f").activation == "maxmin"
    eps = resolve("lmt", "smoke", eps=[0, 1]).eps
    assert eps == (0.0, 1.0) and all(type(e) is float for e in eps)


def test_every_preset_passes_its_checks():
    from lipviz.experiments import EXPERIMENTS

    for name, experiment in EXPERIMENTS.items():
        for preset in experiment.presets():
            cfg = resolve(name, preset)
            assert dataclasses.replace(cfg) == cfg  # rebuilding runs __post_init__ again


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("epochs", 0, "epochs must be >= 1"),
        ("lr", -1.0, "lr must be finite and > 0"),
        ("batch_size", 0, "batch_size must be >= 1"),
        ("n_val_eval", 0, "n_val_eval must be >= 1"),
        ("momentum", 1.5, "momentum must be in"),
        ("weight_decay", float("nan"), "weight_decay must be finite and >= 0"),
        ("select_eps", -0.1, "select_eps must be a finite radius >= 0"),
        ("lr_milestones", (0.8, 0.2), "lr_milestones must be increasing"),
        ("optimizer", "rmsprop", "optimizer must be one of 'adam', 'sgd'"),
        ("epochs", 2.0, "epochs expects int"),
    ],
)
def test_the_training_config_checks_its_values(field, value, message):
    from lipviz.train import TrainConfig

    with pytest.raises(ValueError, match=rf"^TrainConfig\.{message}"):
        TrainConfig(**{field: value})


def test_local_lip_presets_are_the_reference_codes_runs():
    """``run_job.sh`` of yjhuangcd/local-lipschitz (MNIST: ``--sniter 5 --init 2.0
    --epsilon_train 1.75 --gloro``, whose 4C3F builder ignores ``--init`` and keeps ReLU_x's
    1.0; CIFAR-10 6C2F: ``--sniter 2 --init 2.0 --end_lr 1e-6``) with ``argparser``'s defaults."""
    from lipviz.config import LocalLipConfig

    mnist = LocalLipConfig.FULL
    assert (mnist.dataset, mnist.model, mnist.activation) == ("mnist", "4c3f", "clipped-relu")
    assert (mnist.init, mnist.threshold_init) == ("local-lip", 1.0)
    assert (mnist.train_eps, mnist.select_eps, mnist.gloro, mnist.n_iter) == (1.75, 1.58, True, 5)
    assert (mnist.epochs, mnist.warmup_epochs, mnist.rampup_epochs) == (300, 0.0, 150.0)
    assert (mnist.ramp, mnist.lr, mnist.batch_size) == ("reference", 1e-3, 256)
    assert (mnist.lr_schedule, mnist.end_lr, mnist.lr_hold, mnist.lr_milestones) == (
        "exp",
        5e-6,
        25,
        (),
    )
    assert (mnist.sparsity, mnist.sp_thres) == (0.0, 0.1)  # the MNIST code has no sparsity loss
    cifar = LocalLipConfig.FULL_CIFAR10
    assert (cifar.model, cifar.threshold_init, cifar.init, cifar.gloro) == (
        "6c2f",
        2.0,
        "local-lip",
        False,
    )
    assert (cifar.epochs, cifar.warmup_epochs, cifar.rampup_epochs, cifar.n_iter) == (
        800,
        20.0,
        400.0,
        2,
    )
    assert (cifar.train_eps, cifar.select_eps, cifar.end_lr) == (0.1551, 36 / 255, 1e-6)
    assert (cifar.ramp, cifar.lr_schedule) == ("reference", "exp")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ramp": "reference", "rampup_epochs": 1.5}, "whole numbers"),
        ({"ramp": "reference", "rampup_epochs": 0.0}, "whole numbers"),
        ({"lr_schedule": "exp", "lr_milestones": (0.5,)}, "step' only"),
        ({"ramp": "cosine"}, "ramp"),
        ({"init": "xavier"}, "init"),
        ({"threshold_init": -1.0}, "threshold_init"),
    ],
)
def test_local_lip_schedules_refuse_what_they_cannot_follow(overrides, message):
    from lipviz.config import LocalLipConfig

    with pytest.raises(ValueError, match=message):
        LocalLipConfig(**overrides)


def test_soc_cifar10_presets_name_their_data_width_and_variant():
    """Issue 30: the CPU runs are LipConvnet-5 at half the paper's width on the JPEG
    re-encoding (MaxMin + LLN, then HH1 + CR), the smoke preset is the exact subset, and all
    report the SOC paper's radii."""
    eps = (0.0, 36 / 255, 72 / 255, 108 / 255)
    smoke = resolve("soc", "smoke-cifar10")
    assert (smoke.dataset, smoke.depth, smoke.init_channels) == ("cifar10-exact-subset", 5, 8)
    assert (smoke.activation, smoke.last_layer, smoke.gamma) == ("maxmin", "lln", 0.0)
    assert (smoke.n_test, smoke.n_val_eval, smoke.eps, smoke.select_eps) == (
        1017,
        508,
        eps,
        36 / 255,
    )
    cpu = resolve("soc", "cpu-cifar10")
    assert (cpu.dataset, cpu.depth, cpu.init_channels, cpu.epochs) == ("cifar10-jpeg", 5, 16, 30)
    assert (cpu.activation, cpu.last_layer, cpu.gamma, cpu.augment) == (
        "maxmin",
        "lln",
        0.0,
        "crop-flip",
    )
    assert (cpu.lr, cpu.momentum, cpu.weight_decay, cpu.lr_milestones) == (
        0.1,
        0.9,
        5e-4,
        (0.5, 0.75),
    )
    assert (cpu.n_test, cpu.eps, cpu.select_eps) == (10000, eps, 36 / 255)
    hh = resolve("soc", "cpu-cifar10-hh-cr")
    assert (hh.activation, hh.gamma) == ("hh1", 0.5)
    assert dataclasses.replace(hh, activation="maxmin", gamma=0.0) == cpu
