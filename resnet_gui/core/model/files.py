"""Open a model file of any kind we accept, with safe mode on, and say what it expects.

Our own ``.keras`` files describe themselves (a ``Preprocess`` layer resizes and normalises; a
``ModelCard`` layer holds the class names). Models made elsewhere do not, so this module works
out, and records in ``info["assumed"]``, what it had to assume:

- **Class names**: the model card; else a ``labels.txt`` beside the file (one name per line, or
  Teachable Machine's ``"0 cats"`` form); else ``class_0 .. class_{n-1}``.
- **Input scale** (:data:`INPUT_SCALES`): ``0-255`` when the model normalises its own input (our
  ``Preprocess`` layer, or a leading ``Rescaling``); ``-1-1`` for a Teachable Machine export (its
  documented convention); else what the caller passes, else :class:`InputScaleNeeded`.
- **Image size**: the model's fixed input size, else 224.

A model whose input is not an RGB image, or whose output is not a probability vector, is refused.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from resnet_gui.core.base.atomic import replacing, sweep
from resnet_gui.core.base.errors import ModelFileError

#: Pixel value ranges a model may expect, and the (scale, offset) that maps 0..255 onto each.
INPUT_SCALES: dict[str, tuple[float, float]] = {
    "0-255": (1.0, 0.0),
    "0-1": (1.0 / 255.0, 0.0),
    "-1-1": (1.0 / 127.5, -1.0),
}

#: Suffixes of the model files we open.
MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_TEACHABLE_LINE = re.compile(r"^(\d+)\s+(.+)$")


class InputScaleNeeded(ModelFileError):
    """The model does not say how its input pixels are scaled; the caller must choose."""


def scale_pixels(batch: np.ndarray, input_scale: str) -> np.ndarray:
    """Map RGB 0..255 pixels to the range ``input_scale`` names (float32)."""
    scale, offset = INPUT_SCALES[input_scale]
    out = np.asarray(batch, np.float32)
    return out if (scale, offset) == (1.0, 0.0) else out * np.float32(scale) + np.float32(offset)


def read_labels_file(path: Path, expected: int) -> tuple[list[str], bool] | None:
    """Class names from ``labels.txt``: (names, written by Teachable Machine), or None if absent.

    Raises:
        ModelFileError: the file's count of names differs from the model's outputs.
    """
    if not path.is_file():
        return None
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    lines = [ln for ln in lines if ln]
    matches = [_TEACHABLE_LINE.match(ln) for ln in lines]
    teachable = bool(lines) and all(
        m is not None and int(m.group(1)) == i for i, m in enumerate(matches)
    )
    names = [m.group(2).strip() for m in matches] if teachable else lines  # type: ignore[union-attr]
    if len(names) != expected:
        raise ModelFileError(
            f"{path} lists {len(names)} classes but the model has {expected} outputs"
        )
    return names, teachable


def _first_line(exc: BaseException) -> str:
    return ((str(exc).strip().splitlines() or [type(exc).__name__])[0])[:300]


def _legacy_objects(keras: Any) -> dict[str, Any]:
    """Layers that older Keras versions saved with arguments Keras 3 no longer takes."""

    class DepthwiseConv2D(keras.layers.DepthwiseConv2D):
        """tf.keras 2 wrote ``groups=1`` into DepthwiseConv2D configs (Teachable Machine)."""

        def __init__(self, *args: Any, groups: int = 1, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)

    return {"DepthwiseConv2D": DepthwiseConv2D}


def _read_model(path: Path) -> Any:
    from resnet_gui.core.model.build import keras_module

    with path.open("rb") as fh:
        head = fh.read(8)
    if zipfile.is_zipfile(path):
        kind = "keras"
    elif head == _HDF5_MAGIC:
        kind = "h5"
    else:  # said before TensorFlow is imported (seconds)
        raise ModelFileError(f"not a Keras model file (.keras archive or .h5): {path}")
    keras = keras_module()
    try:
        # Safe mode for every format: a Lambda layer (code in the file) is refused.
        return keras.saving.load_model(
            path, compile=False, safe_mode=True,
            custom_objects=_legacy_objects(keras) if kind == "h5" else None,
        )
    except Exception as exc:  # noqa: BLE001 - Keras and h5py raise many kinds for bad files
        raise ModelFileError(f"cannot load model {path}: {_first_line(exc)}") from exc


def self_normalising(model: Any) -> bool:
    """True when the model takes 0..255 pixels itself (our Preprocess, or a leading Rescaling)."""
    for layer in model.layers:
        name = layer.__class__.__name__
        if name in ("Preprocess", "Rescaling", "Normalization"):
            return True
        if name not in ("InputLayer", "Resizing", "CenterCrop"):
            return False
    return False


def check_classifier(
    model: Any, image_size: int, input_scale: str, source: str, *, probe: bool = True
) -> None:
    """Refuse models whose input is not an RGB image or whose output is not probabilities.

    With ``probe``, the model also runs on two random images and its outputs must sum to 1.

    Raises:
        ModelFileError: with the reason.
    """
    shapes = [tuple(t.shape) for t in model.inputs]
    if len(shapes) != 1 or len(shapes[0]) != 4 or shapes[0][-1] not in (3, None):
        raise ModelFileError(f"not an image classifier (input shape {shapes}): {source}")
    outs = [tuple(t.shape) for t in model.outputs]
    if len(outs) != 1 or len(outs[0]) != 2 or (outs[0][-1] or 0) < 2:
        raise ModelFileError(
            f"not a classifier: the output shape is {outs}, not one probability per class: "
            f"{source}"
        )
    if not probe:
        return
    images = np.random.default_rng(0).uniform(0, 255, (2, image_size, image_size, 3))
    try:
        probs = np.asarray(model(scale_pixels(images, input_scale), training=False))
    except Exception as exc:  # noqa: BLE001
        raise ModelFileError(f"the model fails on an image: {_first_line(exc)}: {source}") from exc
    if not (np.all(probs >= -1e-6) and np.allclose(probs.sum(axis=1), 1.0, atol=1e-3)):
        raise ModelFileError(
            "not a classifier: its outputs are not probabilities (they do not sum to 1; "
            f"a softmax is missing?): {source}"
        )


def open_model_file(
    path: str | os.PathLike[str], input_scale: str | None = None
) -> tuple[Any, list[str], int, dict]:
    """Load a ``.keras`` or ``.h5`` classifier safely.

    Args:
        path: the model file.
        input_scale: the pixel range the model expects, for a model that does not say
            (one of :data:`INPUT_SCALES`); ignored for models that normalise themselves.

    Returns:
        (model, class names, image size, info), where ``info`` holds the model card's metadata
        plus ``input_scale``, ``format`` and ``assumed`` (a list of sentences).

    Raises:
        InputScaleNeeded: the model does not say its input scale and none was given.
        ModelFileError: missing, not a model, corrupt, refused by safe mode, or not a classifier.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise ModelFileError(f"model file not found: {p}")
    if input_scale is not None and input_scale not in INPUT_SCALES:
        raise ModelFileError(
            f"unknown input scale {input_scale!r}; choose one of {', '.join(INPUT_SCALES)}"
        )
    model = _read_model(p)
    from resnet_gui.core.model.build import model_card, model_image_size

    try:
        names, info = model_card(model)
        size = model_image_size(model)
    except Exception as exc:  # noqa: BLE001
        raise ModelFileError(f"not an image classifier: {p}") from exc
    has_card = any(layer.__class__.__name__ == "ModelCard" for layer in model.layers)
    assumed: list[str] = []
    teachable = False
    if not has_card:
        names, teachable = _names_without_card(p, names, assumed)
    if size is None:
        size = 224
        assumed.append("input size not fixed by the model: 224 px assumed")
    scale = _input_scale(model, p, input_scale, teachable, assumed)
    check_classifier(model, int(size), scale, str(p), probe=not has_card)
    fmt = "keras" if zipfile.is_zipfile(p) else "h5"
    if teachable:
        fmt = "teachable machine (h5)" if fmt == "h5" else "teachable machine (keras)"
    info = {**info, "input_scale": scale, "format": fmt, "assumed": assumed}
    return model, names, int(size), info


def _names_without_card(p: Path, names: list[str], assumed: list[str]) -> tuple[list[str],
                                                                              bool]:
    """The class names of a model without our card: from ``labels.txt`` beside it, else
    ``class_0``...; and whether that file is in Teachable Machine's format. ``assumed`` is told
    which."""
    found = read_labels_file(p.parent / "labels.txt", len(names))
    if found is None:
        assumed.append(f"class names unknown: named class_0..class_{len(names) - 1}")
        return names, False
    assumed.append("class names from labels.txt"
                   + (" (Teachable Machine format)" if found[1] else ""))
    return found


def _input_scale(model: Any, p: Path, given: str | None, teachable: bool,
                 assumed: list[str]) -> str:
    """The pixel range the model expects: its own (it normalises itself), the one given, or
    Teachable Machine's; ``assumed`` is told which.

    Raises:
        InputScaleNeeded: none of these says.
    """
    if self_normalising(model):
        return "0-255"
    if given is not None:
        assumed.append(f"input pixels scaled to {given} (as given)")
        return given
    if teachable:
        assumed.append("input pixels scaled to -1-1 (the Teachable Machine convention)")
        return "-1-1"
    raise InputScaleNeeded(
        f"{p.name} does not say how its input pixels are scaled; choose one of "
        f"{', '.join(INPUT_SCALES)} (--input-scale)"
    )


def atomic_save(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """Write a ``.keras`` file atomically: ``write(tmp)`` beside the target, then a rename.

    A crash or a full disk during the write leaves any earlier file at ``path`` untouched.

    Raises:
        ModelFileError: the path does not end in ``.keras`` or the write failed.
    """
    target = Path(path).expanduser()
    if target.suffix != ".keras":
        raise ModelFileError(f"model files end in .keras: {target}")
    sweep(target.parent, target)  # saves to this target whose process was killed midway
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with replacing(target) as tmp:
            write(tmp)
    except OSError as exc:
        kept = "the previous file there is unchanged" if target.exists() else "nothing was written"
        raise ModelFileError(f"cannot save {target}: {exc.strerror or exc}; {kept}") from exc
    return target


def save_model(model: Any, path: str | os.PathLike[str]) -> Path:
    """Save ``model`` to ``path`` (``.keras``) atomically; see :func:`atomic_save`."""
    return atomic_save(path, model.save)
