"""LipConvnet-5 training epoch on CPU, side by side with its plain twin.

The twin has the same layout with every SOC replaced by one ordinary convolution of the same
shape (space-to-depth kept for stride 2) and ReLU for the activation; both train one epoch of
the preset's training split with SGD at batch 128 (the SOC net with the preset's objective:
certificate regularisation, or cross-entropy when gamma is 0). The ratio is the price of
orthogonality.

Usage: ``python benchmarks/bench_lipconvnet_epoch.py [--preset smoke|cpu-cifar10]``. With the
``smoke`` preset (mnist5k) each epoch is timed twice (the best is kept) and the full
smoke-preset epoch (with the validation certificate) is timed too; with ``cpu-cifar10``
(init_channels 16 on the 45,000 training images of the CIFAR-10 JPEG re-encoding, minutes an
epoch) each network trains one epoch.
"""

import argparse
import time

import torch
from torch import nn

import lipviz
from lipviz.layers import SOC, Householder, MaxMin
from lipviz.train import CertificateRegularized, CrossEntropy, TrainConfig, Trainer


def plain_twin(model: nn.Sequential) -> nn.Sequential:
    layers = []
    for layer in model:
        if isinstance(layer, SOC):
            conv = nn.Conv2d(
                layer.in_channels * layer.stride**2,
                layer.out_channels,
                layer.kernel_size,
                padding=layer.kernel_size // 2,
            )
            layers += [nn.PixelUnshuffle(layer.stride), conv] if layer.stride > 1 else [conv]
        elif isinstance(layer, (Householder, MaxMin)):
            layers.append(nn.ReLU())
        else:
            layers.append(layer)
    return nn.Sequential(*layers)


def one_epoch(model, objective, train, batch_size=128):
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model.train()
    start = time.perf_counter()
    for xb, yb in train.loader(batch_size, shuffle=True, seed=0):
        loss, _ = objective(model, xb, yb, None, 0.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="smoke", help="a soc preset (smoke, cpu-cifar10)")
    preset = parser.parse_args().preset
    cfg = lipviz.resolve("soc", preset)
    train = lipviz.load_dataset(cfg.dataset, "train", seed=cfg.seed)
    val = lipviz.load_dataset(cfg.dataset, "val", seed=cfg.seed)
    shape = train.input_shape
    make = dict(
        depth=cfg.depth,
        in_channels=shape[0],
        input_size=shape[-1],
        init_channels=cfg.init_channels,
        activation=cfg.activation,
        last_layer=cfg.last_layer,
    )
    soc_net = lipviz.models.create("lipconvnet", **make)
    twin = plain_twin(lipviz.models.create("lipconvnet", **make))
    cr = CertificateRegularized(gamma=cfg.gamma, lipschitz=soc_net[0].lipschitz_bound())
    one_epoch(soc_net, cr, train.subset(256))  # warm-up
    one_epoch(twin, CrossEntropy(), train.subset(256))
    repeats = 2 if preset == "smoke" else 1
    soc_s = min(one_epoch(soc_net, cr, train) for _ in range(repeats))
    twin_s = min(one_epoch(twin, CrossEntropy(), train) for _ in range(repeats))
    n, tag = len(train), f"{preset}.lipconvnet5_w{cfg.init_channels}"
    where = f"{train.label} train split, {n} images, batch 128, {cfg.activation}"
    print(f"RESULT {tag}_epoch_s {soc_s:.2f} s {where}")
    print(f"RESULT {tag}_images_per_s {n / soc_s:.0f} img/s training, CR gamma {cfg.gamma}")
    print(f"RESULT {tag}.plain_twin_epoch_s {twin_s:.2f} s same layout, 1 conv per SOC, ReLU")
    print(f"RESULT {tag}_over_plain_twin {soc_s / twin_s:.2f} x price of orthogonality")
    if preset != "smoke":
        return
    tcfg = TrainConfig(
        epochs=1,
        lr=cfg.lr,
        batch_size=cfg.batch_size,
        optimizer="sgd",
        select_on="val_cert_acc",
        select_eps=cfg.select_eps,
        n_val_eval=cfg.n_val_eval,
    )
    model = lipviz.models.create("lipconvnet", **make)
    fit = Trainer(model, cr, tcfg, shape, progress=False).fit(train, val)
    print(f"RESULT smoke_preset_epoch_s {fit.wall_time_s:.2f} s incl. validation certificate")


if __name__ == "__main__":
    main()
