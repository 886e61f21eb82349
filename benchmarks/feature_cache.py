"""Frozen-backbone training: cached features vs. the plain way, measured side by side.

Plain way: the frozen ResNet-50 inside the model, `image_dataset_from_directory` + `fit`, a full
forward pass every epoch. Ours: `train()` with the on-disk feature cache. Then an unchanged re-run
and a re-run after adding 5% new images (their cost beyond the unchanged re-run, relative to the
first run). Process start and TensorFlow import are excluded (all runs share one process).

No network here, so the backbone's weights are a fixed random initialisation saved to a file
(`--weights` takes ImageNet weights, e.g. the Keras cache file, where available).
Targets: speed-up >= 8x with validation accuracy within 2 points; 5% re-run <= 0.15x.

    .venv/bin/python benchmarks/feature_cache.py [--per-class 60] [--size 160] [--epochs 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import photo_sources, write_photo_classes  # noqa: E402


def plain_way(train_dir: Path, val_dir: Path, weights: str, size: int, epochs: int,
              batch: int) -> tuple[float, float]:
    import keras

    def load(d: Path):  # noqa: ANN202
        return keras.utils.image_dataset_from_directory(
            d, image_size=(size, size), batch_size=batch, label_mode="categorical", seed=1,
            verbose=False,
        )

    train_ds, val_ds = load(train_dir), load(val_dir)
    n_classes = len(train_ds.class_names)
    base = keras.applications.ResNet50(include_top=False, weights=weights,
                                       input_shape=(size, size, 3))
    base.trainable = False
    inputs = keras.Input((size, size, 3))
    x = keras.applications.resnet50.preprocess_input(inputs)
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    # The same optimiser, schedule and loss as ours, so only the caching differs.
    steps = epochs * len(train_ds)
    schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=steps, alpha=0.01)
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=5e-4),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1), metrics=["accuracy"],
    )
    t = time.perf_counter()
    hist = model.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=0)
    return time.perf_counter() - t, max(hist.history["val_accuracy"])


def ours(train_dir: Path, val_dir: Path, weights: str, size: int, epochs: int, batch: int,
         cache: Path) -> tuple[float, float, str]:
    from resnet_gui.core.base.config import TrainConfig
    from resnet_gui.core.train.training import train

    logs: list[str] = []
    t = time.perf_counter()
    res = train(
        TrainConfig(str(train_dir), val_dir=str(val_dir), arch="resnet50", weights=weights,
                    image_size=size, epochs=epochs, batch_size=batch, augment="none",
                    cache_dir=str(cache)),
        on_log=lambda d: logs.append(d.get("message", "")),
    )
    line = next((m for m in logs if m.startswith("backbone features")), "")
    return time.perf_counter() - t, float(res.val_accuracy or 0.0), line


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-class", type=int, default=60)
    ap.add_argument("--size", type=int, default=160)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--weights", default=None, help="ResNet-50 no-top weights file")
    args = ap.parse_args()

    from resnet_gui.core.base.tfsetup import device_description
    from resnet_gui.core.model.build import build_backbone

    tmp = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    n_src = len(photo_sources())
    train_dir = write_photo_classes(tmp / "train", args.per_class, args.size, seed=1)
    val_dir = write_photo_classes(tmp / "val", max(2, args.per_class // 4), args.size, seed=2)
    weights = args.weights
    if weights is None:
        import keras

        keras.utils.set_random_seed(0)
        weights = str(tmp / "resnet50_random.weights.h5")
        build_backbone("resnet50").save_weights(weights)
    n_train = n_src * args.per_class
    print(f"device: {device_description()}; {n_src} classes, {n_train} training images, "
          f"{args.size} px, {args.epochs} epochs, ResNet-50 frozen")

    # Warm up both paths once (graph tracing, allocator) on a 1-epoch run of the validation
    # folder, with a throw-away cache, so neither side pays the process's first-use costs.
    plain_way(val_dir, val_dir, weights, args.size, 1, args.batch)
    ours(val_dir, val_dir, weights, args.size, 1, args.batch, tmp / "warmup-cache")
    plain_s, plain_acc = plain_way(train_dir, val_dir, weights, args.size, args.epochs,
                                   args.batch)
    cache = tmp / "cache"
    first_s, first_acc, line1 = ours(train_dir, val_dir, weights, args.size, args.epochs,
                                     args.batch, cache)
    again_s, _, line2 = ours(train_dir, val_dir, weights, args.size, args.epochs, args.batch,
                             cache)
    extra = max(1, round(args.per_class * 0.05))
    write_photo_classes(train_dir, extra, args.size, seed=3, start=10_000)
    added_s, _, line3 = ours(train_dir, val_dir, weights, args.size, args.epochs, args.batch,
                             cache)
    print(f"plain way (backbone every epoch): {plain_s:7.1f} s  val_acc {plain_acc:.3f}")
    print(f"cached, first run:                {first_s:7.1f} s  val_acc {first_acc:.3f}  [{line1}]")
    print(f"cached, unchanged re-run:         {again_s:7.1f} s  [{line2}]")
    print(f"cached, +{extra * n_src} images (5%):       {added_s:7.1f} s  [{line3}]")
    speedup = plain_s / first_s
    extra_ratio = max(0.0, added_s - again_s) / first_s
    print(f"speed-up plain/cached = {speedup:.1f}x (target >= 8x); "
          f"accuracy difference {100 * (first_acc - plain_acc):+.1f} points (target within 2)")
    print(f"5% re-run extra cost = {extra_ratio:.3f}x the first run (target <= 0.15)")


if __name__ == "__main__":
    main()
