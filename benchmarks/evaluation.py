"""What the robustness report costs next to a plain evaluation, measured side by side.

    .venv/bin/python benchmarks/evaluation.py [--images-per-class 60] [--size 64]

Builds a small classifier (ResNet-18 from scratch, untrained: the cost does not depend on the
weights), writes real photo crops as class folders, then times ``evaluate`` without and with
``robustness=True`` (median of 3 each, after a warm-up) and prints the ratio. The target is about
7x (one forward pass per corruption, plus the corruptions themselves).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import median_time, write_photo_classes  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images-per-class", type=int, default=60)
    ap.add_argument("--size", type=int, default=64)
    args = ap.parse_args()

    from resnet_gui.core.model.build import build_backbone, build_classifier
    from resnet_gui.core.use.evaluation import evaluate
    from resnet_gui.core.use.inference import Classifier

    tmp = Path(tempfile.mkdtemp(prefix="bench-eval-"))
    data = write_photo_classes(tmp / "data", args.images_per_class, args.size)
    classes = sorted(p.name for p in data.iterdir())
    backbone = build_backbone("resnet18", width=32, stem_stride=2)
    model = build_classifier(backbone, class_names=classes, image_size=args.size,
                             preprocess="tf", frozen_inference_bn=False)
    clf = Classifier.from_model(model)
    from resnet_gui.core.data.dataset import scan_dataset

    report = scan_dataset(data)  # scanned once: both sides time the passes, not the scan
    evaluate(clf, report, robustness=True)  # warm-up (tracing)
    plain = median_time(lambda: evaluate(clf, report), repeat=3)
    robust = median_time(lambda: evaluate(clf, report, robustness=True), repeat=3)
    n = len(report.images)
    print(f"{n} images at {args.size} px, {len(classes)} classes")
    print(f"plain evaluation      {plain:7.2f} s  ({n / plain:6.1f} img/s)")
    print(f"with robustness (x7)  {robust:7.2f} s")
    print(f"ratio                 {robust / plain:7.2f}x  (target: about 7x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
