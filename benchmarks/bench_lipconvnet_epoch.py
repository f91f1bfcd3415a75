"""LipConvnet-5 training epoch on CPU (the ``soc`` smoke preset), side by side with its plain twin.

The twin has the same layout with every SOC replaced by one ordinary convolution of the same
shape (space-to-depth kept for stride 2) and ReLU for the Householder activation; both train one
epoch of mnist5k with SGD at batch 128 (the SOC net with certificate regularisation). The ratio
is the price of orthogonality; the full smoke-preset epoch (with the validation certificate) is
timed too.
"""

import time

import torch
from torch import nn

import lipviz
from lipviz.layers import SOC, Householder
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
        elif isinstance(layer, Householder):
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
    cfg = lipviz.resolve("soc", "smoke")
    train = lipviz.load_dataset(cfg.dataset, "train", seed=cfg.seed)
    val = lipviz.load_dataset(cfg.dataset, "val", seed=cfg.seed)
    make = dict(
        depth=cfg.depth,
        in_channels=1,
        input_size=28,
        init_channels=cfg.init_channels,
        activation=cfg.activation,
        last_layer=cfg.last_layer,
    )
    soc_net = lipviz.models.create("lipconvnet", **make)
    twin = plain_twin(lipviz.models.create("lipconvnet", **make))
    cr = CertificateRegularized(gamma=cfg.gamma, lipschitz=soc_net[0].lipschitz_bound())
    one_epoch(soc_net, cr, train.subset(256))  # warm-up
    one_epoch(twin, CrossEntropy(), train.subset(256))
    soc_s = min(one_epoch(soc_net, cr, train) for _ in range(2))
    twin_s = min(one_epoch(twin, CrossEntropy(), train) for _ in range(2))
    n = len(train)
    print(f"RESULT lipconvnet5_epoch_s {soc_s:.2f} s mnist5k train split, {n} images, batch 128")
    print(f"RESULT lipconvnet5_images_per_s {n / soc_s:.0f} img/s training, CR objective")
    print(f"RESULT plain_twin_epoch_s {twin_s:.2f} s same layout, 1 conv per SOC, ReLU")
    print(f"RESULT lipconvnet5_over_plain_twin {soc_s / twin_s:.2f} x price of orthogonality")
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
    fit = Trainer(model, cr, tcfg, (1, 28, 28), progress=False).fit(train, val)
    print(f"RESULT smoke_preset_epoch_s {fit.wall_time_s:.2f} s incl. validation certificate")


if __name__ == "__main__":
    main()
