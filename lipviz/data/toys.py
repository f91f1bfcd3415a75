"""Two-dimensional toy datasets, embedded (no files, no network).

``moons`` and ``circles`` come from scikit-learn; ``spirals`` is two interleaved Archimedean
spirals; ``slab`` is a known-answer toy: two classes on either side of a line with an empty band
of half-width ``gap`` around it. For the slab, the distance of a point to the ideal boundary, the
data margin and the Lipschitz constant of the ideal classifier are known in closed form
(:func:`slab_reference`), which makes it the test fixture for certificates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["ToyDataset", "available_toys", "make_toy", "slab_reference"]


@dataclass(frozen=True, eq=False)
class ToyDataset:
    """Points ``x`` (N, 2) float32 and labels ``y`` (N,) int64 of a 2-D toy.

    Built by :func:`make_toy`.

    Parameters
    ----------
    x : Tensor
        Points, shape ``(N, 2)``, float32.
    y : Tensor
        Class labels, shape ``(N,)``, int64.
    name : str
        The toy's name, one of :func:`available_toys`.
    params : dict
        The arguments it was sampled with (``n``, ``noise``, ``seed`` and any extra keywords).

    Attributes
    ----------
    label : str
        ``"toy '<name>'"``, to print beside results.
    input_shape : tuple of int
        Always ``(2,)``.

    Examples
    --------
    >>> ds = make_toy("slab", n=10)
    >>> len(ds), ds.label, ds.input_shape
    (10, "toy 'slab'", (2,))
    """

    x: torch.Tensor
    y: torch.Tensor
    name: str
    params: dict

    def __len__(self) -> int:
        return len(self.y)

    @property
    def label(self) -> str:
        return f"toy '{self.name}'"

    @property
    def input_shape(self) -> tuple[int, ...]:
        return (2,)

    def loader(self, batch_size: int = 128, shuffle: bool = False, seed: int = 0):
        """A :class:`torch.utils.data.DataLoader` over the points and labels.

        Parameters
        ----------
        batch_size : int
            Examples per batch.
        shuffle : bool
            Reshuffle at every epoch.
        seed : int
            Seed of the loader's own generator (the global RNG is not used).

        Returns
        -------
        torch.utils.data.DataLoader
            Yields ``(x, y)`` batches of shapes ``(B, 2)`` and ``(B,)``.
        """
        gen = torch.Generator().manual_seed(seed)
        ds = torch.utils.data.TensorDataset(self.x, self.y)
        return torch.utils.data.DataLoader(
            ds, batch_size=batch_size, shuffle=shuffle, generator=gen
        )

    def extent(self, pad: float = 0.25) -> tuple[float, float, float, float]:
        """``(xmin, xmax, ymin, ymax)`` of the points, padded: the 2-D rectangle of plots,
        decision grids and region counts (an *extent*; ``box`` means an input-value range).

        Parameters
        ----------
        pad : float
            Margin added on every side of the points' bounding box.

        Returns
        -------
        tuple of float
            ``(xmin, xmax, ymin, ymax)``.
        """
        lo = self.x.min(0).values - pad
        hi = self.x.max(0).values + pad
        return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def _moons(n, noise, rng):
    from sklearn.datasets import make_moons

    return make_moons(n_samples=n, noise=noise, random_state=rng)


def _circles(n, noise, rng):
    from sklearn.datasets import make_circles

    return make_circles(n_samples=n, noise=noise, factor=0.5, random_state=rng)


def _spirals(n, noise, rng):
    gen = np.random.default_rng(rng)
    n0 = n // 2
    t = np.sqrt(gen.uniform(0.05, 1.0, size=n)) * 3 * math.pi
    y = np.r_[np.zeros(n0, dtype=int), np.ones(n - n0, dtype=int)]
    phase = np.where(y == 0, 0.0, math.pi)
    r = t / (3 * math.pi)
    x = np.c_[r * np.cos(t + phase), r * np.sin(t + phase)]
    return x + noise * gen.standard_normal(x.shape), y


def _slab_direction(angle: float) -> np.ndarray:
    return np.array([math.cos(angle), math.sin(angle)])


def _slab(n, noise, rng, gap=0.2, angle=math.pi / 6):
    """Uniform points in [-1, 1]^2 with |w.x| >= gap; label 1 where w.x > 0."""
    if noise:
        msg = "the slab toy is noise-free by construction (its margin is exact); use noise=0"
        raise ValueError(msg)
    gen = np.random.default_rng(rng)
    w = _slab_direction(angle)
    pts = []
    while sum(len(p) for p in pts) < n:
        cand = gen.uniform(-1.0, 1.0, size=(4 * n, 2))
        pts.append(cand[np.abs(cand @ w) >= gap])
    x = np.concatenate(pts)[:n]
    return x, (x @ w > 0).astype(int)


_TOYS = {"moons": _moons, "circles": _circles, "spirals": _spirals, "slab": _slab}
_DEFAULT_NOISE = {"moons": 0.1, "circles": 0.05, "spirals": 0.03, "slab": 0.0}


def available_toys() -> list[str]:
    """Names accepted by :func:`make_toy`.

    Returns
    -------
    list of str
        ``["moons", "circles", "spirals", "slab"]``.

    Examples
    --------
    >>> available_toys()
    ['moons', 'circles', 'spirals', 'slab']
    """
    return list(_TOYS)


def make_toy(name: str, n: int = 400, *, noise: float | None = None, seed: int = 0, **kw):
    r"""Sample a 2-D toy dataset.

    Parameters
    ----------
    name : str
        One of :func:`available_toys`: ``"moons"``, ``"circles"`` (scikit-learn's, with
        ``factor=0.5``), ``"spirals"`` (two interleaved Archimedean spirals) or ``"slab"``.
    n : int
        Number of points, at least 2.
    noise : float, optional
        Standard deviation of the Gaussian noise added to the points; default 0.1 for moons,
        0.05 for circles, 0.03 for spirals and 0 for the slab (which must be noise-free).
    seed : int
        Random seed.
    **kw
        Extra arguments of the toy: for the slab, ``gap`` (half-width of the empty band
        :math:`|w^\top x| < \text{gap}`, default 0.2) and ``angle`` (of the unit normal
        :math:`w = (\cos a, \sin a)`, default :math:`\pi/6`). The slab's points are uniform in
        :math:`[-1, 1]^2` outside the band, labelled 1 where :math:`w^\top x > 0`.

    Returns
    -------
    ToyDataset
        ``x`` float32 of shape ``(n, 2)``, ``y`` int64 of shape ``(n,)``.

    Raises
    ------
    ValueError
        For an unknown toy, ``n < 2``, or a nonzero ``noise`` for the slab.

    Examples
    --------
    >>> ds = make_toy("slab", n=100, gap=0.3)
    >>> ds.x.shape, ds.y.shape, bool((slab_reference(ds).distance >= 0.3 - 1e-6).all())
    (torch.Size([100, 2]), torch.Size([100]), True)
    """
    if name not in _TOYS:
        msg = f"Unknown toy {name!r}. Available: {', '.join(_TOYS)}"
        raise ValueError(msg)
    if n < 2:
        msg = f"n must be at least 2, got {n}"
        raise ValueError(msg)
    noise = _DEFAULT_NOISE[name] if noise is None else noise
    x, y = _TOYS[name](n, noise, seed, **kw)
    params = {"n": n, "noise": noise, "seed": seed, **kw}
    return ToyDataset(
        torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.int64), name, params
    )


@dataclass(frozen=True)
class SlabReference:
    """Closed-form facts about the slab toy and its ideal linear classifier.

    The ideal classifier has logits :math:`f(x) = \\tfrac12 (-w^\\top x,\\; w^\\top x)` with a unit
    vector :math:`w`. Its logit map has Lipschitz constant :math:`\\|W\\|_2 = 1/\\sqrt2`, its margin
    is :math:`|w^\\top x|`, and the global certificate
    :math:`M_f(x)/(\\sqrt2\\,L) = |w^\\top x|` equals the exact distance to its boundary (the
    certificate of Tsuzuku, Sato and Sugiyama, NeurIPS 2018, is tight here).

    Attributes
    ----------
    w : Tensor
        The unit normal :math:`w`, shape ``(2,)``.
    weight : Tensor
        The ideal classifier's weight :math:`\\tfrac12 (-w, w)`, shape ``(2, 2)``.
    lipschitz : float
        Its Lipschitz constant, :math:`1/\\sqrt2`.
    margin : float
        The data margin: the ``gap`` the toy was sampled with.
    distance : Tensor
        Exact distance of each point to the ideal boundary, :math:`|w^\\top x|`, shape ``(N,)``.
    """

    w: torch.Tensor
    weight: torch.Tensor
    lipschitz: float
    margin: float
    distance: torch.Tensor


def slab_reference(ds: ToyDataset) -> SlabReference:
    """The known answers for a slab toy (see :class:`SlabReference`).

    Parameters
    ----------
    ds : ToyDataset
        A toy made by ``make_toy("slab", ...)``; its ``gap`` and ``angle`` are read from
        ``ds.params``.

    Returns
    -------
    SlabReference
        ``distance`` has shape ``(N,)``.

    Raises
    ------
    ValueError
        If ``ds`` is not the slab toy.

    Examples
    --------
    >>> ref = slab_reference(make_toy("slab", n=50))
    >>> ref.margin, ref.weight.shape, bool((ref.distance >= 0.2 - 1e-6).all())
    (0.2, torch.Size([2, 2]), True)
    """
    if ds.name != "slab":
        msg = f"slab_reference needs the 'slab' toy, got {ds.name!r}"
        raise ValueError(msg)
    angle = ds.params.get("angle", math.pi / 6)
    w = torch.as_tensor(_slab_direction(angle), dtype=torch.float32)
    weight = 0.5 * torch.stack([-w, w])
    return SlabReference(
        w=w,
        weight=weight,
        lipschitz=1 / math.sqrt(2),
        margin=float(ds.params.get("gap", 0.2)),
        distance=(ds.x @ w).abs(),
    )
