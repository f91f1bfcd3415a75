"""Audit cost per certified point, against certification of the same points, side by side.

Trains the smoke LMT model on mnist5k (a few seconds), then on its test images: sound
certification (bound included) and ``lipviz.audit`` with its default attack budget (PGD-l2,
100 steps x 5 restarts, plus the Lipschitz search).
"""

import time

import lipviz
from lipviz.certify import Certifier


def main():
    cfg = lipviz.resolve("lmt", "smoke", epochs=3)
    model = lipviz.experiments.run_lmt(cfg, progress=False).model
    test = lipviz.load_dataset("mnist5k", "test").subset(300)

    start = time.perf_counter()
    Certifier(model, (1, 28, 28))(test.x)
    t_cert = time.perf_counter() - start

    start = time.perf_counter()
    report = lipviz.audit(model, test.x, test.y)
    t_audit = time.perf_counter() - start
    per_point = t_audit / max(report.certified, 1)
    print(f"RESULT certified_points {report.certified} points of 300 mnist5k test images")
    print(f"RESULT audit_violations {report.violations} points must be 0")
    note = "PGD 100 steps x 5 restarts + Lipschitz search"
    print(f"RESULT audit_ms_per_certified_point {1e3 * per_point:.1f} ms {note}")
    print(f"RESULT audit_over_certify {t_audit / t_cert:.1f} x certify = {1e3 * t_cert:.0f} ms")


if __name__ == "__main__":
    main()
