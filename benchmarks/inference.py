"""Inference: the app's path vs. the raw model, measured side by side.

1. One dropped photo: decode (one decoder, EXIF, thumbnail) + predict through the app's
   `Classifier.iter_predict`, vs. raw `model(x, training=False)` on that image pre-decoded
   (both after warm-up). Target: <= 1.3x.
2. A folder of N photos: the app's batched, streaming path vs. raw batched `model.predict` on
   pre-decoded arrays. Target: >= 0.9x the raw throughput, with flat memory.

    .venv/bin/python benchmarks/inference.py [--count 1000] [--arch resnet50] [--size 224]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import median_time, rss_mb, write_photo_classes  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--arch", default="resnet50")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--photo-size", type=int, default=640, help="side of the JPEGs on disk")
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()

    from resnet_gui.core.base.tfsetup import device_description
    from resnet_gui.core.data.images import load_image
    from resnet_gui.core.model.archs import get_arch
    from resnet_gui.core.model.build import build_backbone, build_classifier
    from resnet_gui.core.use.inference import Classifier

    tmp = Path(tempfile.mkdtemp(prefix="bench-infer-"))
    per_class = max(1, args.count // 6)
    folder = write_photo_classes(tmp / "photos", per_class, args.photo_size)
    paths = sorted(str(p) for p in folder.rglob("*.jpg"))[: args.count]
    backbone = build_backbone(args.arch, width=64, stem_stride=4)
    model = build_classifier(
        backbone, class_names=[f"c{i}" for i in range(10)], image_size=args.size,
        preprocess=get_arch(args.arch).preprocess, frozen_inference_bn=True,
    )
    clf = Classifier.from_model(model)
    print(f"device: {device_description()}; {args.arch} at {args.size} px; "
          f"{len(paths)} JPEGs of {args.photo_size} px")

    # 1. one photo
    x1 = load_image(paths[0], args.size)[None].astype(np.float32)
    for _ in range(3):
        model(x1, training=False)
        list(clf.iter_predict_with_thumbnails(paths[:1], 96))
    import tensorflow as tf

    compiled = tf.function(lambda x: model(x, training=False))
    for _ in range(3):
        compiled(x1)
    raw1 = median_time(lambda: model(x1, training=False), 7)
    comp1 = median_time(lambda: compiled(x1), 7)
    app1 = median_time(lambda: list(clf.iter_predict_with_thumbnails(paths[:1], 96)), 7)
    print(f"one photo: raw model(x) {1000 * raw1:.1f} ms (eager), compiled model "
          f"{1000 * comp1:.1f} ms; app path (decode + thumbnail + predict) {1000 * app1:.1f} ms; "
          f"ratio app/raw {app1 / raw1:.2f} (target <= 1.3), app/compiled {app1 / comp1:.2f}")

    # 2. a folder
    arrays = np.stack([load_image(p, args.size) for p in paths]).astype(np.float32)
    model.predict(arrays[: args.batch], batch_size=args.batch, verbose=0)
    t = time.perf_counter()
    model.predict(arrays, batch_size=args.batch, verbose=0)
    raw_s = time.perf_counter() - t
    del arrays
    base = peak = None
    t = time.perf_counter()
    n = 0
    for i, batch in enumerate(clf.iter_predict(paths, batch_size=args.batch)):
        n += len(batch)
        if i == 1:  # after the first batches (tracing, allocator pools): flat from here on?
            base = peak = rss_mb()
        elif base is not None:
            peak = max(peak, rss_mb())
    app_s = time.perf_counter() - t
    base = base or rss_mb()
    peak = peak or base
    print(f"folder: raw predict {len(paths) / raw_s:.1f} img/s (pre-decoded), "
          f"app {n / app_s:.1f} img/s (decoding included); ratio {raw_s / app_s:.2f} "
          f"(target >= 0.9); memory grew {peak - base:.0f} MB while streaming")


if __name__ == "__main__":
    main()
