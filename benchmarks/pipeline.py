"""Input pipeline: is decoding/augmentation ever the bottleneck on 2 cores?

Times training steps of the default ResNet-18 recipe fed by the real pipeline (decoded uint8
images in memory, shuffled, augmented in tf.data, prefetched) against the same number of steps on
one batch of ready float tensors repeated (no input work at all), in one process.
Target: real pipeline step <= 1.1x the in-memory-tensor step.

    .venv/bin/python benchmarks/pipeline.py [--size 64] [--steps 60]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_photo_classes  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()

    from resnet_gui.core.base.config import DEFAULT_AUGMENT
    from resnet_gui.core.base.tfsetup import device_description, import_tensorflow
    from resnet_gui.core.data import pipeline
    from resnet_gui.core.data.dataset import scan_dataset
    from resnet_gui.core.model.archs import stem_stride_for
    from resnet_gui.core.model.build import build_backbone, build_classifier

    tf = import_tensorflow()
    import keras

    root = write_photo_classes(Path(tempfile.mkdtemp()) / "d", 50, args.size)
    report = scan_dataset(root)
    n_classes = len(report.classes)
    images, _ = pipeline.decode_many(report.paths, args.size)
    augmenter = pipeline.build_augmenter(DEFAULT_AUGMENT, 0)
    real = pipeline.make_dataset(images, report.labels, n_classes, batch_size=args.batch,
                                 shuffle=True, seed=0, augmenter=augmenter).repeat()
    x0 = tf.cast(images[: args.batch], tf.float32)
    y0 = tf.one_hot(report.labels[: args.batch], n_classes)
    fixed = tf.data.Dataset.from_tensors((x0, y0)).repeat()

    def model():  # noqa: ANN202
        keras.utils.set_random_seed(0)
        bb = build_backbone("resnet18", width=32, stem_stride=stem_stride_for(args.size))
        m = build_classifier(bb, class_names=report.classes, image_size=args.size,
                             preprocess="tf", frozen_inference_bn=False)
        m.compile(optimizer="adamw", loss="categorical_crossentropy")
        return m

    def timed(ds) -> float:  # noqa: ANN001
        m = model()
        m.fit(ds, steps_per_epoch=10, epochs=1, verbose=0)  # warm-up: tracing
        t = time.perf_counter()
        m.fit(ds, steps_per_epoch=args.steps, epochs=1, verbose=0)
        return (time.perf_counter() - t) / args.steps

    results = {"tensors": [], "pipeline": []}
    for _ in range(2):  # interleaved
        results["tensors"].append(timed(fixed))
        results["pipeline"].append(timed(real))
    t_fixed = float(np.median(results["tensors"]))
    t_real = float(np.median(results["pipeline"]))
    print(f"device: {device_description()}; ResNet-18 (width 32) at {args.size} px, batch "
          f"{args.batch}, augment {','.join(DEFAULT_AUGMENT)}")
    print(f"step on in-memory tensors: {1000 * t_fixed:.1f} ms; with the real pipeline: "
          f"{1000 * t_real:.1f} ms; ratio {t_real / t_fixed:.2f} (target <= 1.1)")


if __name__ == "__main__":
    main()
