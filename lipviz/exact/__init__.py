"""Exact references, the oracles every bound is tested against (small cases only).

- :mod:`~lipviz.exact.jacobian`: dense-Jacobian operator norms, local gradient norms, SOC
  truncation tables;
- :mod:`~lipviz.exact.planar`: decision grids and distances to the boundary in 2-D;
- :mod:`~lipviz.exact.regions`: the linear regions and exact Lipschitz constant of tiny ReLU
  networks on a 2-D box, and on a disc (the oracle of local bounds).
"""

from .jacobian import exact_operator_norm, local_jacobian_norms, truncation_table
from .planar import boundary_distance, decision_grid
from .regions import LinearRegions, ball_lipschitz, linear_regions

__all__ = [
    "LinearRegions",
    "ball_lipschitz",
    "boundary_distance",
    "decision_grid",
    "exact_operator_norm",
    "linear_regions",
    "local_jacobian_norms",
    "truncation_table",
]
