"""A training's first step: Keras' own AdamW update against the fused one that every training
uses (``resnet_gui/core/train/optimizer.py``).

The first step is traced into a graph, and for a small training that trace is most of the
wait before the first batch. Each measurement is a fresh process (a trace in a warm process
is faster): build the classifier, compile, time the first ``train_on_batch`` (trace and run)
and a second one (run only). The two optimizers alternate, median of ``--repeat`` each.
Measured when it came (stop 34, 2 cores): ResNet-18 first step 0.84x, ResNet-50 0.57x and its
later steps 0.84x. Target: never slower than Keras' own (< 1x), first or later steps.

    .venv/bin/python benchmarks/first_step.py [--arch resnet18] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

KINDS = ("keras", "fused")


def child(kind: str, arch: str, size: int) -> None:
    """Build, compile with the ``kind`` optimizer, print the two steps' seconds as JSON."""
    import numpy as np

    from resnet_gui.core.base.tfsetup import import_keras
    from resnet_gui.core.model.archs import get_arch
    from resnet_gui.core.model.build import build_backbone, build_classifier
    from resnet_gui.core.train.optimizer import make_optimizer

    keras = import_keras()
    model = build_classifier(
        build_backbone(arch, width=32, stem_stride=1), class_names=["a", "b"], image_size=size,
        preprocess=get_arch(arch).preprocess, frozen_inference_bn=False,
    )
    optimizer = (keras.optimizers.AdamW(learning_rate=1e-3, weight_decay=1e-4)
                 if kind == "keras" else make_optimizer(1e-3, 1e-4))
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    optimizer.build(model.trainable_variables)  # as Runner._compile does
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (8, size, size, 3)).astype("float32")
    y = np.eye(2, dtype="float32")[rng.integers(0, 2, 8)]
    times = []
    for _ in range(2):
        started = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - started)
    print(json.dumps({"first": times[0], "later": times[1]}))


def measure(kind: str, arch: str, size: int) -> dict:
    """One fresh process's two step times for the ``kind`` optimizer."""
    done = subprocess.run([sys.executable, __file__, "--child", kind, "--arch", arch,
                           "--size", str(size)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    """Alternate the two optimizers in fresh processes; print the medians and their ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.arch, args.size)
        return
    runs: dict[str, list[dict]] = {kind: [] for kind in KINDS}
    for _ in range(args.repeat):
        for kind in KINDS:
            runs[kind].append(measure(kind, args.arch, args.size))
    medians = {kind: {key: statistics.median(r[key] for r in runs[kind])
                      for key in ("first", "later")} for kind in KINDS}
    for kind in KINDS:
        print(f"{kind:6s} first step {medians[kind]['first']:6.2f} s   "
              f"later step {medians[kind]['later']:6.3f} s")
    first = medians["fused"]["first"] / medians["keras"]["first"]
    later = medians["fused"]["later"] / medians["keras"]["later"]
    print(f"fused/keras: first step {first:.2f}x, later step {later:.2f}x "
          f"({args.arch}, {args.size} px, {args.repeat} fresh processes each)")


if __name__ == "__main__":
    main()
