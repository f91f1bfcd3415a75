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
