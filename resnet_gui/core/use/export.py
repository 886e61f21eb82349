"""Export a classifier to SavedModel, TFLite (LiteRT) or ONNX, and check the result in its runtime.

The export graph is built from the model's own layers, not from the saved classifier as it is:
the classifier's ``Preprocess`` layer resizes with antialiasing, which TensorFlow emits as a
``ScaleAndTranslate`` op that LiteRT cannot convert and that makes tf2onnx write a graph
onnxruntime refuses. So the exported model takes a fixed-size image and applies only the
normalisation, then the same backbone and head layers (no dropout, no augmentation), then the
model's calibration temperature. Its contract (:func:`model_card`) is written beside it.

The conversion itself is Keras 3's ``model.export`` (formats "tf_saved_model", "litert",
"onnx"); int8 TFLite passes LiteRT's converter a representative dataset of the user's images.
The check in each runtime is ``core/use/export_check.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from resnet_gui import __version__
from resnet_gui.core.base.atomic import replacing, write_text
from resnet_gui.core.base.errors import InputError, ModelFileError
from resnet_gui.core.data.images import expand_inputs, load_image
from resnet_gui.core.model.graph import layer_chain

if TYPE_CHECKING:
    from resnet_gui.core.use.inference import Classifier

#: format name -> (Keras export format, what the output path is, its suffix or "" for a folder).
EXPORT_FORMATS: dict[str, tuple[str, str]] = {
    "savedmodel": ("tf_saved_model", ""),
    "tflite": ("litert", ".tflite"),
    "onnx": ("onnx", ".onnx"),
}
#: Images of the calibration folder used to quantise an int8 model.
CALIBRATION_IMAGES = 200
_INPUT_SCALE_TO_MODE = {"0-255": "none", "0-1": "unit", "-1-1": "tf"}


@dataclass
class Exported:
    """Where an export went and what it contains."""

    path: Path
    fmt: str
    card_path: Path
    labels_path: Path
    int8: bool = False


def _layers(keras: Any) -> tuple[type, type]:
    from resnet_gui.core.model.build import normalise_pixels

    class Normalise(keras.layers.Layer):
        """The classifier's normalisation without its resize (the caller resizes)."""

        def __init__(self, mode: str, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.mode = mode

        def call(self, x: Any) -> Any:
            return normalise_pixels(keras.ops, x, self.mode)

    class Temperature(keras.layers.Layer):
        """softmax(log(p) / T): the calibration the app applies to every probability."""

        def __init__(self, temperature: float, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.temperature = float(temperature)

        def call(self, p: Any) -> Any:
            ops = keras.ops
            return ops.softmax(ops.log(ops.maximum(p, 1e-12)) / self.temperature, axis=-1)

    return Normalise, Temperature


def export_graph(classifier: Classifier) -> Any:
    """A Keras model: (N, S, S, 3) float32 RGB 0..255 -> calibrated class probabilities."""
    from resnet_gui.core.model.build import keras_module

    keras = keras_module()
    Normalise, Temperature = _layers(keras)
    size = classifier.image_size
    preprocess = [
        layer for layer in classifier.model.layers if layer.__class__.__name__ == "Preprocess"
    ]
    if preprocess:
        mode = preprocess[0].mode
        body = layer_chain(classifier.model, size).body_after(("Preprocess",))
    else:  # a model made elsewhere: scale as it expects, then the whole model
        mode = _INPUT_SCALE_TO_MODE[classifier.input_scale]
        body = [classifier.model]
    inputs = keras.Input((size, size, 3), dtype="float32", name="image")
    x = Normalise(mode, name="normalise")(inputs)
    for layer in body:
        if layer.__class__.__name__.startswith("Random"):
            continue  # augmentation is never part of an export
        x = layer(x, training=False)
    if abs(classifier.temperature - 1.0) > 1e-6:
        x = Temperature(classifier.temperature, name="temperature")(x)
    graph = keras.Model(inputs, x, name="exported_classifier")
    try:
        graph(np.zeros((1, size, size, 3), np.float32))  # ONNX export wants a model that ran
    except Exception as exc:  # noqa: BLE001 - a model made elsewhere may not fit its own size
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelFileError(f"the model cannot be exported: {first[:300]}") from exc
    return graph


def model_card(classifier: Classifier, fmt: str, int8: bool = False) -> dict:
    """The exported model's contract, as written to ``model_card.json``."""
    s = classifier.image_size
    batch = 1 if fmt == "tflite" else None  # LiteRT's converted graph takes one image a call
    return {
        "exported_by": f"resnet-gui {__version__}",
        "format": fmt,
        "class_names": list(classifier.class_names),
        "input": {
            "dtype": "float32",
            "layout": "NHWC",
            "shape": [batch, s, s, 3],
            "pixels": "RGB, 0-255",
            "resize": f"the caller's: the whole image to {s}x{s}, bilinear, no crop "
            "(as resnet-gui does)",
            "normalisation": "inside the model",
        },
        "output": {
            "shape": [batch, len(classifier.class_names)],
            "meaning": "probabilities in the order of class_names",
            "calibrated": abs(classifier.temperature - 1.0) > 1e-6,
            "temperature": classifier.temperature,
        },
        "int8": int8,
        "architecture": classifier.architecture,
        "source": classifier.info.get("source", ""),
        "assumed": list(classifier.info.get("assumed") or []),
    }


def target_path(fmt: str, out: str | os.PathLike[str]) -> Path:
    """Check ``out`` for ``fmt`` before any work.

    Raises:
        InputError: unknown format, wrong suffix, a folder that is not an earlier export, or a
            parent folder that cannot be written.
    """
    if fmt not in EXPORT_FORMATS:
        raise InputError(f"unknown export format {fmt!r}; choose {', '.join(EXPORT_FORMATS)}")
    path = Path(out).expanduser().resolve()
    suffix = EXPORT_FORMATS[fmt][1]
    if suffix and path.suffix.lower() != suffix:
        raise InputError(f"a {fmt} export is one file ending in {suffix}: {path}")
    if suffix and path.is_dir():
        raise InputError(f"{path} is a folder; give a file name ending in {suffix}")
    if not suffix and path.exists() and not (path / "saved_model.pb").is_file():
        raise InputError(f"{path} exists and is not a SavedModel export; choose a new folder")
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {parent}: {exc.strerror or exc}") from exc
    if not os.access(parent, os.W_OK):
        raise InputError(f"cannot write to {parent}: permission denied")
    return path


def images_of(folder: str | os.PathLike[str], size: int, limit: int | None = None) -> Iterator[
    tuple[str, np.ndarray]
]:
    """(path, RGB uint8 array at ``size``) of a folder's readable images, through the app's
    decoder; unreadable files are skipped."""
    from resnet_gui.core.base.errors import ImageError

    count = 0
    for p in expand_inputs([folder]):
        try:
            yield p, load_image(p, size)
        except ImageError:
            continue
        count += 1
        if limit is not None and count >= limit:
            return


def export_model(
    classifier: Classifier,
    fmt: str,
    out: str | os.PathLike[str],
    *,
    int8: bool = False,
    calibration: str | os.PathLike[str] | None = None,
) -> Exported:
    """Export ``classifier`` as ``fmt`` to ``out``, atomically, with its card and labels.

    Args:
        classifier: the model.
        fmt: "savedmodel" (a folder), "tflite" or "onnx" (a file).
        out: the target; an earlier export there is replaced only once the new one is whole.
        int8: quantise a TFLite model to int8 (weights and activations; float32 in and out).
        calibration: a folder of images representative of the input (needed with ``int8``).

    Raises:
        InputError: a bad format, path or option.
        ModelFileError: the conversion failed.
    """
    path = target_path(fmt, out)
    if int8 and fmt != "tflite":
        raise InputError("--int8 applies to the tflite format only")
    if int8 and not calibration:
        raise InputError("--int8 needs --calibration DATA: a folder of typical images")
    kwargs: dict[str, Any] = {}
    if int8:
        kwargs = _int8_options(classifier, calibration)  # type: ignore[arg-type]
    graph = export_graph(classifier)
    card = model_card(classifier, fmt, int8)
    try:
        # the exporters want their own suffix, in lower case: "x.TFLITE" is written as .tflite
        with replacing(path, EXPORT_FORMATS[fmt][1]) as tmp:
            _export(graph, tmp, EXPORT_FORMATS[fmt][0], kwargs)
            if fmt == "savedmodel":  # the folder holds its card and labels
                _write_sidecars(tmp, card, classifier.class_names)
        if fmt == "savedmodel":
            card_path, labels_path = path / "model_card.json", path / "labels.txt"
        else:
            card_path, labels_path = _write_sidecars(path.parent, card, classifier.class_names)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return Exported(path, fmt, card_path, labels_path, int8)


def _export(graph: Any, path: Path, keras_format: str, kwargs: dict) -> None:
    import warnings

    from resnet_gui.core.base.tfsetup import filtered_stderr

    try:
        with warnings.catch_warnings(), filtered_stderr():
            warnings.simplefilter("ignore")  # tf2onnx's numpy deprecation notices
            graph.export(str(path), format=keras_format, verbose=False, **kwargs)
    except ImportError as exc:
        raise ModelFileError(
            f"{keras_format} export needs packages that are not installed ({exc.name or exc}); "
            "install them with: pip install 'resnet-gui[export]'"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - converters raise many kinds
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelFileError(f"{keras_format} conversion failed: {first[:300]}") from exc


def _int8_options(classifier: Classifier, calibration: str | os.PathLike[str]) -> dict[str, Any]:
    from resnet_gui.core.base.tfsetup import import_tensorflow

    tf = import_tensorflow()
    images = [a for _, a in images_of(calibration, classifier.image_size, CALIBRATION_IMAGES)]
    if not images:
        raise InputError(f"no readable images in the calibration folder {calibration}")

    def representative() -> Iterator[list[np.ndarray]]:
        for a in images:
            yield [a[None].astype(np.float32)]

    return {"optimizations": [tf.lite.Optimize.DEFAULT], "representative_dataset": representative}


def _write_sidecars(folder: Path, card: dict, class_names: list[str]) -> tuple[Path, Path]:
    card_path, labels_path = folder / "model_card.json", folder / "labels.txt"
    write_text(card_path, json.dumps(card, indent=2) + "\n")
    write_text(labels_path, "".join(f"{c}\n" for c in class_names))
    return card_path, labels_path
