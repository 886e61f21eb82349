"""Input pipeline: decode validated files with the one decoder, batch them with tf.data, augment.

Decoded images are held in memory as uint8 arrays when they fit the budget (a few hundred photos
at 64-224 px take 5-60 MB), so later epochs never touch the disk; otherwise files are decoded on
the fly. Either way, shuffling happens after the cache, every epoch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from resnet_gui.core.base.errors import ImageError, Stopped
from resnet_gui.core.data.images import load_image


def decode_many(
    paths: Sequence[str],
    size: int,
    *,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[np.ndarray, list[ImageError]]:
    """Decode ``paths`` to an (N, size, size, 3) uint8 array, in parallel threads.

    A file that fails (it changed since the scan) leaves a black image and an entry in the
    returned error list; callers drop those rows.

    Raises:
        Stopped: ``should_stop`` returned True.
    """
    out = np.zeros((len(paths), size, size, 3), dtype=np.uint8)
    errors: list[ImageError] = []
    bad: list[int] = []

    def work(i: int) -> None:
        try:
            out[i] = load_image(paths[i], size)
        except ImageError as err:
            errors.append(err)
            bad.append(i)

    n_workers = workers or max(2, os.cpu_count() or 2)
    chunk = max(16, n_workers * 8)
    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        for begin in range(0, len(paths), chunk):
            if should_stop is not None and should_stop():
                raise Stopped("stopped")
            list(pool.map(work, range(begin, min(begin + chunk, len(paths)))))
            if progress is not None:
                progress(min(begin + chunk, len(paths)), len(paths))
    return out, errors


def build_augmenter(names: Sequence[str], seed: int, strength: float = 1.0) -> Any:
    """A Keras Sequential of random layers for ``names`` (``config.AUGMENTATIONS``; None when
    the list is empty).

    Ranges are moderate (rotation +/-10 degrees, shift/zoom 10%, shear 10%, contrast 20%,
    brightness 20% of the range; "color" is that brightness plus saturation x0.55-1.8), scaled
    by ``strength``; "crop" keeps 25-100% of the area. They act on uint8-range float images in
    the batch.
    """
    if not names:
        return None
    from resnet_gui.core.base.tfsetup import import_keras

    keras = import_keras()  # stock layers only: no custom layer of ours in an augmenter
    L = keras.layers
    s = strength
    layers: list[Any] = []
    for i, name in enumerate(names):
        sd = seed + 101 * (i + 1)
        if name == "flip":
            layers.append(L.RandomFlip("horizontal", seed=sd))
        elif name == "rotate":
            layers.append(L.RandomRotation(0.028 * s, fill_mode="reflect", seed=sd))
        elif name == "shift":
            layers.append(L.RandomTranslation(0.1 * s, 0.1 * s, fill_mode="reflect", seed=sd))
        elif name == "zoom":
            layers.append(L.RandomZoom((-0.1 * s, 0.1 * s), fill_mode="reflect", seed=sd))
        elif name == "shear":
            layers.append(L.RandomShear(0.1 * s, 0.1 * s, fill_mode="reflect", seed=sd))
        elif name == "contrast":
            layers.append(L.RandomContrast(0.2 * s, value_range=(0, 255), seed=sd))
        elif name == "crop":
            layers.append(random_resized_crop(min_area=1.0 - 0.75 * min(1.0, s), seed=sd))
        elif name == "brightness":
            layers.append(L.RandomBrightness(0.2 * s, value_range=(0, 255), seed=sd))
        elif name == "color":
            layers.append(L.RandomBrightness(0.2 * s, value_range=(0, 255), seed=sd))
            layers.append(L.RandomSaturation((0.5 - 0.15 * s, 0.5 + 0.15 * s),
                                             value_range=(0, 255), seed=sd + 1))
    return keras.Sequential(layers, name="augment")


def random_resized_crop(min_area: float, seed: int) -> Any:
    """A layer that crops each image of a batch to a random box (``min_area`` to all of the
    area, aspect 3:4 to 4:3) and scales it back to the full size (bilinear)."""
    from resnet_gui.core.base.tfsetup import import_keras, import_tensorflow

    keras, tf = import_keras(), import_tensorflow()

    class RandomResizedCrop(keras.layers.Layer):
        def __init__(self) -> None:
            super().__init__(name="random_resized_crop")
            self.seed_generator = keras.random.SeedGenerator(seed)

        def call(self, images: Any, training: bool = True) -> Any:
            if not training:
                return images
            n = tf.shape(images)[0]
            size = tf.shape(images)[1:3]

            def draw(low: float, high: float) -> Any:
                return keras.random.uniform((n,), low, high, seed=self.seed_generator)

            area = draw(min_area, 1.0)
            aspect = tf.exp(draw(-0.2877, 0.2877))  # log(3/4) .. log(4/3)
            h = tf.minimum(1.0, tf.sqrt(area / aspect))
            w = tf.minimum(1.0, tf.sqrt(area * aspect))
            y, x = draw(0.0, 1.0) * (1.0 - h), draw(0.0, 1.0) * (1.0 - w)
            boxes = tf.stack([y, x, y + h, x + w], axis=1)
            return tf.image.crop_and_resize(images, boxes, tf.range(n), size)

    return RandomResizedCrop()


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int,
    augmenter: Any = None,
) -> Any:
    """A tf.data pipeline over in-memory uint8 images: shuffled each epoch, augmented, prefetched.

    Labels become one-hot vectors (label smoothing needs them).
    """
    from resnet_gui.core.base.tfsetup import import_tensorflow

    tf = import_tensorflow()
    ds = tf.data.Dataset.from_tensor_slices((images, labels.astype(np.int32)))
    if shuffle:
        ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)

    def to_float(x: Any, y: Any) -> tuple[Any, Any]:
        return tf.cast(x, tf.float32), tf.one_hot(y, num_classes)

    ds = ds.map(to_float, num_parallel_calls=tf.data.AUTOTUNE)
    return _augment_and_prefetch(ds, augmenter)


def _augment_and_prefetch(ds: Any, augmenter: Any) -> Any:
    from resnet_gui.core.base.tfsetup import import_tensorflow

    tf = import_tensorflow()
    if augmenter is not None:
        # Sequential on purpose: the random layers keep their seed state in variables, and
        # concurrent calls would draw in a different order each run (seeded runs must repeat).
        ds = ds.map(
            lambda x, y: (tf.clip_by_value(augmenter(x, training=True), 0.0, 255.0), y)
        )
    return ds.prefetch(tf.data.AUTOTUNE)


def make_file_dataset(
    paths: Sequence[str],
    labels: np.ndarray,
    num_classes: int,
    size: int,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int,
    augmenter: Any = None,
    on_failure: Callable[[ImageError], None] | None = None,
) -> Any:
    """Like :func:`make_dataset` but decoding files on the fly (for sets too big for memory).

    A file that fails to decode now (changed or deleted since the scan) is left out of the
    batch, never trained on as a blank image; ``on_failure`` hears of it once.
    """
    from resnet_gui.core.base.tfsetup import import_tensorflow

    tf = import_tensorflow()
    reported: set[str] = set()

    def decode(path: bytes) -> tuple[np.ndarray, np.bool_]:
        try:
            return load_image(path.decode("utf-8"), size), np.bool_(True)
        except ImageError as err:
            if on_failure is not None and err.path not in reported:
                reported.add(err.path)
                on_failure(err)
            return np.zeros((size, size, 3), np.uint8), np.bool_(False)

    ds = tf.data.Dataset.from_tensor_slices((list(paths), labels.astype(np.int32)))
    if shuffle:
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)

    def load(p: Any, y: Any) -> tuple[Any, Any, Any]:
        x, ok = tf.numpy_function(decode, [p], (tf.uint8, tf.bool), stateful=False)
        x.set_shape((size, size, 3))
        ok.set_shape(())
        return x, y, ok

    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.filter(lambda x, y, ok: ok).map(lambda x, y, ok: (x, y)).batch(batch_size)
    ds = ds.map(
        lambda x, y: (tf.cast(x, tf.float32), tf.one_hot(y, num_classes)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return _augment_and_prefetch(ds, augmenter)
