"""Peak memory of Local-Lip training against the batch size and the dataset size, side by side.

Each configuration runs in a fresh process (peak resident memory, ``ru_maxrss``): one epoch of
Local-Lip training (4C3F with clipped ReLUs, ε ramped to 1.75) on random MNIST-sized data. The
reference code keeps a power-iteration vector per training example (``u_train``), so its memory
grows with the dataset; lipviz's must grow with the batch only.
"""

import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, torch
import lipviz
from lipviz.train import LocalLip
n, batch = int(sys.argv[1]), int(sys.argv[2])
torch.manual_seed(0)
model = lipviz.create_model("4c3f", activation="clipped-relu", normalize=None)
x, y = torch.rand(n, 1, 28, 28), torch.randint(0, 10, (n,))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
objective = LocalLip(eps=1.75, rampup_epochs=1.0, n_iter=2)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for i in range(0, n, batch):
    loss, _ = objective(model, x[i : i + batch], y[i : i + batch], None, 5.0)
    opt.zero_grad()
    loss.backward()
    opt.step()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"peak_mb": peak / 1024, "before_mb": base / 1024}))
"""


def _peak(n: int, batch: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(n), str(batch)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    by_batch = {b: _peak(4 * b, b) for b in (32, 64, 128, 256)}
    by_data = {n: _peak(n, 64) for n in (256, 1024, 4096)}
    for b, r in by_batch.items():
        grow = r["peak_mb"] - r["before_mb"]
        print(
            f"RESULT locallip_epoch_peak_mb_batch{b} {r['peak_mb']:.0f} MB "
            f"(+{grow:.0f} MB over the data and model; 4 steps of batch {b})"
        )
    for n, r in by_data.items():
        grow = r["peak_mb"] - r["before_mb"]
        print(
            f"RESULT locallip_epoch_peak_mb_data{n} {r['peak_mb']:.0f} MB "
            f"(+{grow:.0f} MB; batch 64, {n} examples)"
        )
    small, large = by_data[256], by_data[4096]
    ratio = (large["peak_mb"] - large["before_mb"]) / (small["peak_mb"] - small["before_mb"])
    print(f"RESULT locallip_training_memory_16x_data {ratio:.2f} x growth over the data")


if __name__ == "__main__":
    main()
