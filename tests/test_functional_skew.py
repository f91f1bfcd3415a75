"""Skew-symmetric filters stored as their independent half and rebuilt exactly; shapes and
sizes that do not fit are refused before anything of the shape's size is allocated."""

import pytest
import torch

from lipviz.functional import pack_skew, skew_half_size, unpack_skew
from lipviz.layers.soc import skew_symmetrize


@pytest.mark.parametrize("shape", [(4, 4, 3, 3), (5, 5, 1, 1), (3, 3, 5, 5), (1, 1, 3, 3)])
def test_pack_keeps_half_and_unpack_rebuilds_the_skew_part_exactly(shape):
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(shape, generator=gen)
    half = pack_skew(w)
    centre = shape[0] if shape[2] % 2 else 0  # entries equal to their own partner: zero in S
    assert half.numel() == (w.numel() - centre) // 2
    s = unpack_skew(half, shape)
    assert torch.equal(s, skew_symmetrize(w))  # the layer's own skew part, bit for bit
    assert torch.equal(s, -s.transpose(0, 1).flip(2, 3))
    assert torch.equal(skew_symmetrize(s), s)  # a layer with weight S has the same filter
    assert torch.equal(pack_skew(s), half)


def test_pack_and_unpack_refuse_what_is_not_a_square_odd_filter():
    with pytest.raises(ValueError, match="square filter"):
        pack_skew(torch.zeros(4, 3, 3, 3))
    with pytest.raises(ValueError, match="square filter"):
        pack_skew(torch.zeros(4, 4, 2, 2))
    with pytest.raises(ValueError, match="70 values"):
        unpack_skew(torch.zeros(71), (4, 4, 3, 3))
    with pytest.raises(ValueError, match="square filter"):
        unpack_skew(torch.zeros(70), (4, 4, 3))
    with pytest.raises(ValueError, match="square filter"):
        skew_half_size((4, 4, 3, 3.0))


@pytest.mark.parametrize("shape", [(4, 4, 3, 3), (5, 5, 1, 1), (3, 3, 5, 5), (1, 1, 3, 3)])
def test_half_size_is_the_length_pack_returns(shape):
    assert skew_half_size(shape) == pack_skew(torch.zeros(shape)).numel()


def test_a_huge_shape_is_refused_before_anything_of_its_size_is_allocated():
    # 10^5 x 10^5 x 3 x 3 filter: its index tensors alone would take 720 GB
    with pytest.raises(ValueError, match="values make a"):
        unpack_skew(torch.zeros(70), (100_000, 100_000, 3, 3))
