"""Frozen presets (lipviz.config): SMOKE/FULL, resolve and its errors."""

import dataclasses

import pytest

from lipviz.config import Margins2DConfig, resolve


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
    [("kappa_clip", "yes"), ("kappa_clip", 1), ("epochs", 2.5), ("epochs", "3"), ("c", "2"),
     ("eps", 1.58), ("dataset", 3)],
)  # fmt: skip
def test_overrides_of_the_wrong_type_name_the_field(field, given):
    with pytest.raises(ValueError, match=rf"LMTConfig\.{field} expects"):
        resolve("lmt", "smoke", **{field: given})
