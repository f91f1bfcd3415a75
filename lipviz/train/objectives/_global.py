"""The objectives of the global-bound methods: cross-entropy, LMT, spectral regularisation and
certificate regularisation (the calling convention is in :mod:`lipviz.train.objectives`)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ...functional import certificate, certificate_scales, row_distances

__all__ = ["LMT", "CertificateRegularized", "CrossEntropy", "SpectralRegularized", "linear_warmup"]


def linear_warmup(target: float, epochs: float, start: float = 1e-5):
    r"""Schedule rising linearly from ``start`` to ``target`` over ``epochs``, then constant.

    .. math::

        c(e) = \begin{cases} c_0 + (c_1 - c_0)\, e / E & e < E \\ c_1 & e \ge E \end{cases}

    with :math:`c_0` = ``start``, :math:`c_1` = ``target`` and :math:`E` = ``epochs``.

    Parameters
    ----------
    target : float
        The value :math:`c_1` from ``epochs`` on.
    epochs : float
        Length :math:`E` of the ramp, in (fractional) epochs; ``<= 0`` means no ramp.
    start : float, default 1e-5
        The value :math:`c_0` at epoch 0.

    Returns
    -------
    callable
        ``schedule(epoch: float) -> float``.

    Examples
    --------
    >>> schedule = linear_warmup(1.0, 2.0, start=0.0)
    >>> schedule(0.0), schedule(1.0), schedule(5.0)
    (0.0, 0.5, 1.0)
    """

    def schedule(epoch: float) -> float:
        if epochs <= 0 or epoch >= epochs:
            return target
        return start + (target - start) * epoch / epochs

    return schedule


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside a :class:`~torch.nn.parallel.DistributedDataParallel` wrapper (for its
    layers; the forward pass goes through the wrapper, which synchronises the gradients)."""
    return getattr(model, "module", model)


@dataclass(frozen=True)
class CrossEntropy:
    r"""Plain cross-entropy (``temperature`` scales the logits inside the loss only).

    The loss is :math:`\mathrm{mean}_i\, \mathrm{CE}(T f(x_i), y_i)` with :math:`T` the
    temperature; the returned logits are the unscaled :math:`f(x)`.

    Parameters
    ----------
    temperature : float, default 1.0
        The factor :math:`T` of the logits inside the loss.

    Attributes
    ----------
    needs_lipschitz : bool
        False (class constant): the :class:`~lipviz.train.Trainer` builds no Lipschitz
        estimate for it.

    Examples
    --------
    >>> net = nn.Linear(2, 3)
    >>> _ = nn.init.zeros_(net.weight), nn.init.zeros_(net.bias)
    >>> loss, metrics = CrossEntropy()(net, torch.zeros(4, 2), torch.tensor([0, 1, 2, 0]), None, 0)
    >>> round(loss.item(), 4), tuple(metrics["logits"].shape)  # log 3
    (1.0986, (4, 3))
    """

    temperature: float = 1.0
    needs_lipschitz = False
    walks_model = False

    def __call__(self, model, x, y, lip, epoch):
        """The loss on one batch, and the logits.

        Parameters
        ----------
        model : nn.Module
            Maps ``x`` to logits ``(B, C)``.
        x : Tensor
            Shape ``(B, ...)``, a training batch.
        y : Tensor
            Shape ``(B,)``, integer labels.
        lip : PowerIterationBound or None
            Unused.
        epoch : float
            The fractional epoch (0 at the start of training); unused.

        Returns
        -------
        loss : Tensor
            0-dim, differentiable.
        metrics : dict
            ``{"logits": Tensor of shape (B, C)}``.
        """
        logits = model(x)
        loss = nn.functional.cross_entropy(self.temperature * logits, y)
        return loss, {"logits": logits}


@dataclass(frozen=True)
class LMT:
    r"""Lipschitz-margin training (Tsuzuku, Sato and Sugiyama, 2018).

    The non-true logits are raised before the cross-entropy, so the network must win by a
    margin proportional to its Lipschitz estimate :math:`L`:

    - ``form="global"``: :math:`f_j \mathrel{+}= \sqrt2\, c\, L` for :math:`j \ne y`;
    - ``form="pairwise"``: :math:`f_j \mathrel{+}= c\, L_{\text{prefix}} \|w_j - w_y\|`.

    ``kappa_clip=True`` is the reference code's variant: the added amount is scaled by
    :math:`\kappa = \mathrm{clip}(\text{margin}/\text{added}, 0, 1)`, treated as a constant (0 for
    misclassified points), so the penalty never pushes beyond the current margin. ``c`` warms up
    linearly from ``c_start`` over ``warmup_epochs``.

    With :math:`s_{yj}` the scale of :func:`lipviz.functional.certificate_scales`
    (:math:`\sqrt2\, L` or :math:`L_{\text{prefix}} \|w_j - w_y\|`), the loss is

    .. math::

        \mathrm{mean}_i\, \mathrm{CE}\big(f(x_i) + \kappa_i\, c\, s_{y_i \cdot}
        \odot (1 - e_{y_i}),\; y_i\big)

    with :math:`e_y` the one-hot vector of :math:`y` and :math:`\kappa_i = 1` unless
    ``kappa_clip``. :math:`L` and :math:`L_{\text{prefix}}`
    are the differentiable power-iteration estimates of a
    :class:`~lipviz.train.lipschitz.PowerIterationBound` (its ``total`` and :meth:`prefix`), so
    the penalty also pushes the estimate down.

    Parameters
    ----------
    c : float, default 1.0
        The guarded radius, in input units (>= 0); its value after the warm-up.
    form : {"global", "pairwise"}, default "global"
        ``"pairwise"`` needs an ``nn.Sequential`` model whose last layer is ``nn.Linear``.
    kappa_clip : bool, default False
        Scale the added amounts of row :math:`i` by the constant
        :math:`\kappa_i = \min_{j \ne y_i} \mathrm{clip}\big(\max(f_{y_i} - f_j, 0) /
        (c\, s_{y_i j}), 0, 1\big)`.
    warmup_epochs : float, default 0.0
        Length of the linear warm-up of ``c`` (:func:`linear_warmup`); 0 for none.
    c_start : float, default 1e-5
        The value of ``c`` at epoch 0 of the warm-up.

    Attributes
    ----------
    needs_lipschitz : bool
        True (class constant): the :class:`~lipviz.train.Trainer` passes a
        :class:`~lipviz.train.lipschitz.PowerIterationBound` as ``lip``.

    Raises
    ------
    ValueError
        If ``form`` is unknown or ``c`` < 0.

    Examples
    --------
    With the identity map, :math:`L = 1`, so the other logit is raised by :math:`\sqrt2`:

    >>> from lipviz.train.lipschitz import PowerIterationBound
    >>> net = nn.Sequential(nn.Linear(2, 2, bias=False))
    >>> _ = net[0].weight.data.copy_(torch.eye(2))
    >>> lip = PowerIterationBound(net, (2,))
    >>> loss, metrics = LMT(c=1.0)(net, torch.tensor([[1.0, 0.0]]), torch.tensor([0]), lip, 0.0)
    >>> round(loss.item(), 4), metrics["c"]  # CE of the logits (1, sqrt 2)
    (0.9215, 1.0)
    """

    c: float = 1.0
    form: str = "global"
    kappa_clip: bool = False
    warmup_epochs: float = 0.0
    c_start: float = 1e-5
    needs_lipschitz = True
    walks_model = False

    def __post_init__(self):
        if self.form not in ("global", "pairwise"):
            msg = f"LMT form must be 'global' or 'pairwise', got {self.form!r}"
            raise ValueError(msg)
        if self.c < 0:
            msg = f"c must be >= 0, got {self.c}"
            raise ValueError(msg)

    def __call__(self, model, x, y, lip, epoch):
        """The loss on one batch, the logits and the current ``c``.

        Parameters
        ----------
        model : nn.Module
            Maps ``x`` to logits ``(B, C)``.
        x : Tensor
            Shape ``(B, ...)``, a training batch.
        y : Tensor
            Shape ``(B,)``, integer labels.
        lip : PowerIterationBound
            The estimate: ``lip()`` (global form), or ``lip.prefix()`` then ``lip()``
            (pairwise form); in training mode each call advances its vectors.
        epoch : float
            The fractional epoch (0 at the start of training); drives the warm-up
            of ``c``.

        Returns
        -------
        loss : Tensor
            0-dim, differentiable in the weights (also through the Lipschitz estimate).
        metrics : dict
            ``{"logits": Tensor of shape (B, C), "c": float}``.
        """
        c = linear_warmup(self.c, self.warmup_epochs, self.c_start)(epoch)
        logits = model(x)
        others = 1.0 - nn.functional.one_hot(y, logits.shape[1]).to(logits)
        # c times the certificate's scale of each gap: the margin a radius c would need
        if self.form == "global":
            total, _ = lip()
            added = c * certificate_scales(logits, y, total) * others
        else:
            table = row_distances(unwrap(model)[-1].weight)  # (C, C): ||w_j - w_i||
            added = certificate_scales(logits, y, c * lip.prefix(), table) * others
            lip()  # advance the vectors of the last layer too
        if self.kappa_clip:
            with torch.no_grad():
                own = logits.gather(1, y[:, None])
                margin = (own - logits.scatter(1, y[:, None], float("-inf"))).clamp_min(0)
                kappa = (margin / added.clamp_min(1e-12)).clamp(0, 1) * others
                kappa = kappa.masked_fill(others == 0, float("inf")).amin(1, keepdim=True)
                kappa = torch.where(torch.isfinite(kappa), kappa, torch.zeros_like(kappa))
            added = kappa * added
        loss = nn.functional.cross_entropy(logits + added, y)
        return loss, {"logits": logits, "c": float(c)}


@dataclass(frozen=True)
class SpectralRegularized:
    r"""Spectral-norm regularisation (Yoshida and Miyato, 2017) added to the cross-entropy.

    Cross-entropy plus :math:`\tfrac{\beta}{2}\sum_i \sigma_i^2` over the linear layers'
    power-iteration estimates (spectral-norm regularisation, Yoshida and Miyato, 2017):

    .. math::

        \mathrm{mean}_i\, \mathrm{CE}(f(x_i), y_i) + \frac{\beta}{2} \sum_l \sigma_l^2

    :math:`\sigma_l` is the ``per_layer`` estimate of a
    :class:`~lipviz.train.lipschitz.PowerIterationBound`: one per linear operator call
    (``Linear``, ``Conv2d`` on its actual input shape, or a fused ``Conv2d`` +
    ``BatchNorm2d``), where the paper takes the spectral norm of each weight matrix (a
    convolution's reshaped kernel).

    Parameters
    ----------
    beta : float, default 0.01
        The regularisation weight :math:`\beta`.

    Attributes
    ----------
    needs_lipschitz : bool
        True (class constant): the :class:`~lipviz.train.Trainer` passes a
        :class:`~lipviz.train.lipschitz.PowerIterationBound` as ``lip``.
    """

    beta: float = 0.01
    needs_lipschitz = True
    walks_model = False

    def __call__(self, model, x, y, lip, epoch):
        """The regularised loss on one batch, and the logits.

        Parameters
        ----------
        model : nn.Module
            Maps ``x`` to logits ``(B, C)``.
        x : Tensor
            Shape ``(B, ...)``, a training batch.
        y : Tensor
            Shape ``(B,)``, integer labels.
        lip : PowerIterationBound
            The estimate; called once (advancing its vectors in training mode).
        epoch : float
            The fractional epoch (0 at the start of training); unused.

        Returns
        -------
        loss : Tensor
            0-dim, differentiable in the weights (also through the sigmas).
        metrics : dict
            ``{"logits": Tensor of shape (B, C)}``.
        """
        logits = model(x)
        _, sigmas = lip()
        penalty = 0.5 * self.beta * sum(s * s for s in sigmas)
        return nn.functional.cross_entropy(logits, y) + penalty, {"logits": logits}


@dataclass(frozen=True)
class CertificateRegularized:
    r"""Certificate regularisation (CR; Singla, Singla and Feizi, ICLR 2022).

    The loss is :math:`\mathrm{CE} - \gamma\,\mathrm{mean}\,\mathrm{ReLU}(\mathrm{cert}(x, y))`:

    ``cert`` is the last-layer certificate for the *true* label over all classes. When the last
    layer is an ``nn.Linear`` (e.g. LLN) it is the pairwise one,
    :math:`\min_{j \ne y} (f_y - f_j) / (L\,\|w_y - w_j\|)`; otherwise (an orthogonal last
    layer) it is :math:`(f_y - \max_{j \ne y} f_j) / (\sqrt2\, L)`. :math:`L` is the declared
    Lipschitz constant of everything before the last layer (``lipschitz``; for a network of
    orthogonal layers, the input normalisation's 1/min std).

    ``model`` must be indexable (``model[-1]`` is its last layer, e.g. an ``nn.Sequential``).

    Parameters
    ----------
    gamma : float, default 0.5
        The weight :math:`\gamma` of the certificate term.
    lipschitz : float, default 1.0
        The declared Lipschitz constant :math:`L` of everything before the last layer.

    Attributes
    ----------
    needs_lipschitz : bool
        False (class constant): ``L`` is declared, not estimated.

    Examples
    --------
    With the identity as last layer, :math:`\mathrm{cert} = (1 - 0)/(1 \cdot \sqrt2)`:

    >>> net = nn.Sequential(nn.Linear(2, 2, bias=False))
    >>> _ = net[0].weight.data.copy_(torch.eye(2))
    >>> objective = CertificateRegularized(gamma=0.5)
    >>> loss, _ = objective(net, torch.tensor([[1.0, 0.0]]), torch.tensor([0]), None, 0.0)
    >>> round(loss.item(), 4)  # log(1 + e^-1) - 0.5 / sqrt 2
    -0.0403
    """

    gamma: float = 0.5
    lipschitz: float = 1.0
    needs_lipschitz = False
    walks_model = False

    def __call__(self, model, x, y, lip, epoch):
        """The regularised loss on one batch, and the logits.

        Parameters
        ----------
        model : nn.Module
            Maps ``x`` to logits ``(B, C)``.
        x : Tensor
            Shape ``(B, ...)``, a training batch.
        y : Tensor
            Shape ``(B,)``, integer labels.
        lip : PowerIterationBound or None
            Unused.
        epoch : float
            The fractional epoch (0 at the start of training); unused.

        Returns
        -------
        loss : Tensor
            0-dim, differentiable.
        metrics : dict
            ``{"logits": Tensor of shape (B, C)}``.
        """
        logits = model(x)
        last = unwrap(model)[-1]
        table = row_distances(last.weight) if isinstance(last, nn.Linear) else None
        cert = certificate(logits, y, certificate_scales(logits, y, self.lipschitz, table))
        loss = nn.functional.cross_entropy(logits, y) - self.gamma * torch.relu(cert).mean()
        return loss, {"logits": logits}
