"""Dense-Jacobian oracles (lipviz.exact.jacobian): the SOC truncation table."""

import torch

from lipviz.layers import (
    SOC,
)


def test_truncation_table_is_bounded_and_converges():
    from lipviz.exact import truncation_table

    torch.manual_seed(5)
    soc = SOC(4, 4, 3, bias=False, multiplier=1.0).double()
    table = truncation_table(soc, (4, 5, 5), terms=(1, 2, 4, 8, 12))
    assert (table.sigma_max <= table.bound * (1 + 1e-9)).all()
    assert abs(table.sigma_max.iloc[-1] - 1) < 1e-6 and abs(table.sigma_min.iloc[-1] - 1) < 1e-6
    assert table.bound.is_monotonic_decreasing
    assert soc.eval_terms == 12  # restored
