"""Backbone features computed once and kept on disk, for frozen-backbone training.

With a frozen pretrained backbone, every epoch would push the same images through the same
network again. Instead each image's pooled backbone features are computed once (plus K
augmented views) and stored under a key made of the image's content hash and everything that
changes the features: architecture, weights, image size, preprocessing, augmentation. Later epochs
— and later runs on the same folder — train only the small head; adding images computes only the
new ones. The cache is bounded in size (oldest files go first) and can be cleared.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from resnet_gui.core.base.atomic import leftovers, replacing
from resnet_gui.core.base.config import TrainPlan

DEFAULT_MAX_BYTES = 2 * 1024**3


def default_cache_dir() -> Path:
    """``$RESNET_GUI_CACHE``, else the system's cache folder for the app (platformdirs, as for
    checkpoints): ``~/.cache/resnet-gui`` on Linux (``$XDG_CACHE_HOME`` respected),
    ``~/Library/Caches/resnet-gui`` on macOS, ``%LOCALAPPDATA%\\resnet-gui\\Cache`` on Windows."""
    env = os.environ.get("RESNET_GUI_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("resnet-gui", appauthor=False))


def file_sha1(path: str | os.PathLike[str]) -> str:
    """SHA-1 of a file's content."""
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class FeatureCache:
    """Per-image feature arrays on disk: ``root/features/<model key>/<ab>/<sha1>.npy``."""

    def __init__(self, root: str | os.PathLike[str] | None = None,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = Path(root) if root is not None else default_cache_dir() / "features"
        self.max_bytes = int(max_bytes)

    @staticmethod
    def model_key(**parts: Any) -> str:
        """A short stable key for everything that changes the features."""
        blob = json.dumps(parts, sort_keys=True, default=str)
        return hashlib.sha1(blob.encode()).hexdigest()[:20]

    def _path(self, key: str, sha1: str) -> Path:
        return self.root / key / sha1[:2] / f"{sha1}.npy"

    def get(self, key: str, sha1: str) -> np.ndarray | None:
        """The cached array, or None (also for a damaged file, which is removed)."""
        path = self._path(key, sha1)
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            if path.exists():
                path.unlink(missing_ok=True)
            return None
        os.utime(path)  # most recently used: pruned last
        return arr

    def put(self, key: str, sha1: str, features: np.ndarray) -> None:
        """Store an array atomically (a temporary file, then a rename)."""
        path = self._path(key, sha1)
        path.parent.mkdir(parents=True, exist_ok=True)
        with replacing(path) as tmp:  # an interrupted write leaves nothing
            np.save(tmp, features, allow_pickle=False)

    def _files(self) -> list[Path]:
        """Every file the cache holds, in the order pruning removes them: first the temporary
        files of writers that were killed (they take space too), then the cached arrays, least
        recently used first."""
        if not self.root.exists():
            return []
        cached = [p for p in self.root.rglob("*.npy") if not p.name.startswith(".")]
        return list(leftovers(self.root, recursive=True)) + sorted(
            cached, key=lambda p: p.stat().st_mtime)

    def usage(self) -> tuple[int, int]:
        """(number of files, total bytes)."""
        files = self._files()
        return len(files), sum(p.stat().st_size for p in files)

    def prune(self) -> int:
        """Delete the least recently used files until the cache fits ``max_bytes``."""
        files = self._files()
        total = sum(p.stat().st_size for p in files)
        removed = 0
        for p in files:
            if total <= self.max_bytes:
                break
            total -= p.stat().st_size
            p.unlink(missing_ok=True)
            removed += 1
        return removed

    def clear(self) -> tuple[int, int]:
        """Delete everything; returns (files removed, bytes freed)."""
        files = self._files()
        n, size = len(files), sum(p.stat().st_size for p in files)
        for p in files:
            p.unlink(missing_ok=True)
        for d in sorted((p for p in self.root.rglob("*") if p.is_dir()), reverse=True) \
                if self.root.exists() else []:
            try:
                d.rmdir()
            except OSError:
                pass
        return n, size


def compute_features(
    extractor: Any,
    images: np.ndarray,
    hashes: Sequence[str],
    *,
    views: int,
    augmenter: Any,
    cache: FeatureCache | None,
    key: str,
    batch_size: int = 32,
    should_stop: Callable[[], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, int]:
    """Features of every image: an (N, 1 + views, D) float16 array, view 0 unaugmented.

    Cached rows are read back; the others are computed in batches and stored.

    Returns:
        (features, number of images computed now).

    Raises:
        Stopped: ``should_stop`` returned True.
    """
    from resnet_gui.core.base.errors import Stopped

    n = len(hashes)
    found: dict[int, np.ndarray] = {}
    if cache is not None:
        for i, h in enumerate(hashes):
            arr = cache.get(key, h)
            if arr is not None and arr.shape[0] == 1 + views:
                found[i] = arr
    missing = [i for i in range(n) if i not in found]
    dim = int(extractor.outputs[0].shape[-1])
    out = np.zeros((n, 1 + views, dim), dtype=np.float16)
    for i, arr in found.items():
        out[i] = arr
    for begin in range(0, len(missing), batch_size):
        if should_stop is not None and should_stop():
            raise Stopped("stopped")
        idx = missing[begin : begin + batch_size]
        batch = images[idx].astype(np.float32)
        if len(idx) < batch_size:
            # Pad to the full batch: one input shape, so the predict function is traced once
            # (a retrace costs more than the extra rows when a few images were added).
            pad = np.repeat(batch[:1], batch_size - len(idx), axis=0)
            batch = np.concatenate([batch, pad])
        for v in range(1 + views):
            x = batch if v == 0 else np.asarray(augmenter(batch, training=True))
            feats = np.asarray(extractor.predict_on_batch(np.clip(x, 0, 255)))
            out[idx, v] = feats[: len(idx)].astype(np.float16)
        if cache is not None:
            for i in idx:
                cache.put(key, hashes[i], out[i])
        if progress is not None:
            progress(min(begin + batch_size, len(missing)), len(missing))
    if cache is not None and missing:
        cache.prune()
    return out, len(missing)


def weights_identity(weights: str | None) -> str:
    """What identifies a backbone's starting weights in a cache key."""
    if weights in (None, "imagenet"):
        return str(weights)
    return "sha1:" + file_sha1(weights)


def cached_feature_datasets(
    model: Any, plan: TrainPlan, augmenter: Any,
    x_train: np.ndarray, x_val: np.ndarray, y_train: np.ndarray, y_val: np.ndarray,
    train_hashes: Sequence[str], val_hashes: Sequence[str], *,
    views: int, seed: int, cache_dir: str | None,
    say: Callable[[str], None], should_stop: Callable[[], bool],
) -> tuple[Any, Any, Any]:
    """Compute (or load) backbone features of ``model`` and make head-only datasets.

    Args:
        model: the full classifier built for ``plan`` (its "pool" layer gives the features).
        plan: the run's plan (architecture, weights, size, augmentation, batch size).
        augmenter: the augmentation model for the ``views`` extra views (None: no views).
        x_train: decoded uint8 training images.
        x_val: decoded uint8 validation images.
        y_train: labels of the training images.
        y_val: labels of the validation images.
        train_hashes: content hashes of the training images (the cache keys).
        val_hashes: content hashes of the validation images.
        views: augmented views cached per training image, besides the original.
        seed: the run's seed (picks a view per image and epoch).
        cache_dir: the cache's root folder (None: the default).
        say: called with lines for the user.
        should_stop: polled between batches.

    Returns:
        (head model, train dataset, validation dataset or None). Train the head, then
        :func:`copy_head_weights` into ``model``.
    """
    import time

    from resnet_gui.core.model.build import build_head, keras_module

    keras = keras_module()
    class_count = int(model.outputs[0].shape[-1])
    extractor = keras.Model(model.inputs, model.get_layer("pool").output,
                            name="feature_extractor")
    views = max(0, int(views)) if augmenter is not None else 0
    cache = FeatureCache(Path(cache_dir) / "features" if cache_dir else None)
    base_key, key = _feature_keys(plan, views, seed)
    t0 = time.perf_counter()
    f_train, new_train = compute_features(
        extractor, x_train, train_hashes, views=views, augmenter=augmenter, cache=cache,
        key=key, batch_size=plan.batch_size, should_stop=should_stop,
    )
    f_val, new_val = compute_features(
        extractor, x_val, val_hashes, views=0, augmenter=None, cache=cache, key=base_key,
        batch_size=plan.batch_size, should_stop=should_stop,
    ) if len(val_hashes) else (np.zeros((0, 1, f_train.shape[-1]), np.float16), 0)
    total = len(train_hashes) + len(val_hashes)
    say(
        f"backbone features: {new_train + new_val} computed, "
        f"{total - new_train - new_val} from the cache ({time.perf_counter() - t0:.1f} s); "
        "training the head only"
    )
    head = build_head(f_train.shape[-1], class_count, dropout=plan.dropout, hidden_units=0)
    train_ds, val_ds = _head_datasets(f_train, f_val, y_train, y_val, class_count,
                                      plan.batch_size, seed)
    return head, train_ds, val_ds


def _feature_keys(plan: TrainPlan, views: int, seed: int) -> tuple[str, str]:
    """The cache keys of unaugmented features (they depend on the backbone and its input
    only) and of the training features (augmented views also on the augmentation)."""
    from resnet_gui.core.model.archs import get_arch
    from resnet_gui.core.model.build import keras_module

    keras = keras_module()
    base_key = FeatureCache.model_key(
        arch=plan.arch, weights=weights_identity(plan.weights),
        image_size=plan.image_size, preprocess=get_arch(plan.arch).preprocess,
        keras=keras.__version__, policy=keras.mixed_precision.global_policy().name,
    )
    key = base_key if views == 0 else FeatureCache.model_key(
        base=base_key, augment=list(plan.augment), views=views, seed=seed
    )
    return base_key, key


def _head_datasets(
    f_train: np.ndarray, f_val: np.ndarray, y_train: np.ndarray, y_val: np.ndarray,
    class_count: int, batch_size: int, seed: int,
) -> tuple[Any, Any]:
    """The head's datasets: each epoch sees each training image as one of its cached views,
    drawn at random; validation uses the unaugmented features."""
    from resnet_gui.core.base.tfsetup import import_tensorflow

    tf = import_tensorflow()
    n_views = f_train.shape[1]
    generator = tf.random.Generator.from_seed(seed)

    def pick_view(x: Any, y: Any) -> tuple[Any, Any]:
        n = tf.shape(x)[0]
        idx = generator.uniform((n,), minval=0, maxval=n_views, dtype=tf.int32) \
            if n_views > 1 else tf.zeros((n,), tf.int32)
        return tf.cast(tf.gather(x, idx, batch_dims=1), tf.float32), y

    train_ds = (
        tf.data.Dataset.from_tensor_slices((f_train, tf.one_hot(y_train, class_count)))
        .shuffle(len(f_train), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(pick_view)
        .prefetch(tf.data.AUTOTUNE)
    )
    val_ds = (
        tf.data.Dataset.from_tensor_slices(
            (f_val[:, 0].astype(np.float32), tf.one_hot(y_val, class_count))
        ).batch(batch_size)
        if len(f_val) else None
    )
    return train_ds, val_ds


def copy_head_weights(head: Any, model: Any) -> None:
    """Copy the trained head's layers into the full classifier (same layer names)."""
    for layer in head.layers:
        if layer.weights:
            model.get_layer(layer.name).set_weights(layer.get_weights())
