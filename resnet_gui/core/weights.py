"""Pretrained weights: where Keras keeps them, fetching them, and saying clearly when offline.

The one place a weights choice (None, "imagenet" or a file) becomes a file to load:
:func:`resolve_weights`. Keras is imported inside functions only.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from resnet_gui.core.archs import ArchSpec, get_arch
from resnet_gui.core.errors import TrainingError, WeightsUnavailableError

WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"


def keras_home() -> Path:
    """The Keras cache folder (``$KERAS_HOME`` or ``~/.keras``)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser()


def imagenet_weights_path(arch: str) -> Path | None:
    """Where Keras keeps the no-top ImageNet weights of ``arch`` (None if it has none)."""
    spec = get_arch(arch)
    if spec.weights_file is None:
        return None
    return keras_home() / "models" / spec.weights_file


def imagenet_weights_cached(arch: str) -> bool:
    """True when the ImageNet weights file of ``arch`` is already in the Keras cache."""
    path = imagenet_weights_path(arch)
    return path is not None and path.is_file() and path.stat().st_size > 0


def fetch_imagenet_weights(arch: str, log: Callable[[dict], None] | None = None) -> Path:
    """Return the cached no-top ImageNet weights of ``arch``, downloading them if needed.

    Args:
        arch: an architecture with ImageNet weights (resnet50, resnet101, ...).
        log: optional callable given ``{"message": ...}`` before a download starts.

    Raises:
        WeightsUnavailableError: no network and no cached file (names the file to place where).
    """
    spec = get_arch(arch)
    target = imagenet_weights_path(arch)
    if target is None:
        raise WeightsUnavailableError(f"Keras ships no ImageNet weights for {spec.title}")
    if imagenet_weights_cached(arch):
        return target
    from resnet_gui.core.tfsetup import import_keras

    keras = import_keras()
    if log is not None:
        log({"message": f"downloading ImageNet weights for {spec.title} ({target.name})…"})
    try:
        got = keras.utils.get_file(
            spec.weights_file, WEIGHTS_URL + (spec.weights_file or ""), cache_subdir="models",
            cache_dir=str(keras_home()),
        )
    except Exception as exc:  # noqa: BLE001 - Keras raises a bare Exception when offline
        raise WeightsUnavailableError(imagenet_unavailable_message(arch, exc)) from None
    return Path(got)


def resolve_weights(
    spec: ArchSpec, weights: str | None, log: Callable[[dict], None] | None = None
) -> Path | None:
    """The file to load for a weights choice: None, "imagenet" (cached or fetched) or a path.

    Raises:
        TrainingError: ImageNet weights asked for an architecture Keras has none for.
        WeightsUnavailableError: the ImageNet file cannot be had, or the path is no file.
    """
    if weights is None:
        return None
    if weights == "imagenet":
        if not spec.has_imagenet:
            raise TrainingError(
                f"Keras ships no ImageNet weights for {spec.title}: use resnet50/101/152 for "
                "transfer learning, or --weights none to train it from scratch"
            )
        return fetch_imagenet_weights(spec.name, log)
    path = Path(weights).expanduser()
    if not path.is_file():
        raise WeightsUnavailableError(f"weights file not found: {path}")
    return path


def imagenet_unavailable_message(arch: str, cause: BaseException | str) -> str:
    """One line saying the ImageNet weights cannot be had, and which file to place where."""
    target = imagenet_weights_path(arch)
    first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return (
        f"ImageNet weights for {get_arch(arch).title} are not available ({first[:160]}). "
        f"Place {target.name if target else '?'} in {target.parent if target else '~/.keras/models'} "
        "or use --weights none (train from scratch) or --weights PATH"
    )
