"""Load a saved classifier safely and classify photos with it, in bounded-memory batches."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from resnet_gui.core.base.calibration import apply_temperature
from resnet_gui.core.base.errors import ImageError, ModelFileError
from resnet_gui.core.data.images import expand_inputs, load_image, open_image, resize_square
from resnet_gui.core.model.files import scale_pixels

if TYPE_CHECKING:
    from resnet_gui.core.model.graph import Chain


@dataclass
class Prediction:
    """The result for one input: top-k (label, probability) pairs, or an error message."""

    path: str
    labels: list[str] = field(default_factory=list)
    probabilities: list[float] = field(default_factory=list)
    error: str | None = None
    #: The top probability is below the minimum confidence the user asked for.
    uncertain: bool = False

    @property
    def top(self) -> tuple[str, float] | None:
        """The most likely (label, probability), or None on error."""
        return (self.labels[0], self.probabilities[0]) if self.labels else None

    def to_dict(self) -> dict:
        """The JSON form used by ``resnet-gui predict --format json``."""
        return {
            "path": self.path,
            "predictions": [
                {"label": lab, "probability": round(float(p), 6)}
                for lab, p in zip(self.labels, self.probabilities, strict=True)
            ],
            "uncertain": self.uncertain,
            "error": self.error,
        }


def prediction_rows(results: Iterable[dict], top_k: int | None = None) -> list[list[str]]:
    """The prediction table (``predict --format csv`` and the app's CSV/clipboard export).

    Args:
        results: :meth:`Prediction.to_dict` dicts.
        top_k: label/probability column pairs (default: the most any result has).

    Returns:
        A header row ``path, label_1, probability_1, ..., uncertain, error`` and one row per
        result (``uncertain`` is "true" or "false", empty for an error).
    """
    results = list(results)
    k = top_k if top_k is not None else max(
        (len(r.get("predictions") or []) for r in results), default=0
    )
    header = ["path"]
    for i in range(1, k + 1):
        header += [f"label_{i}", f"probability_{i}"]
    rows = [header + ["uncertain", "error"]]
    for r in results:
        preds = r.get("predictions") or []
        row = [str(r["path"])]
        for i in range(k):
            row += [preds[i]["label"], f"{preds[i]['probability']:.6f}"] if i < len(preds) \
                else ["", ""]
        uncertain = "" if r.get("error") else str(bool(r.get("uncertain"))).lower()
        rows.append(row + [uncertain, r.get("error") or ""])
    return rows


def decode_batch(chunk: list[str], size: int, thumbnail_size: int | None
                 ) -> tuple[list[str], np.ndarray, dict[int, str], list]:
    """Decode one batch of files at the model's ``size``: the files, their pixels, the errors
    by position, and a thumbnail of each (with ``thumbnail_size``) from the same decode."""
    arr = np.zeros((len(chunk), size, size, 3), np.uint8)
    errors: dict[int, str] = {}
    thumbs: list[np.ndarray | None] = [None] * len(chunk)
    for i, path in enumerate(chunk):
        try:
            if thumbnail_size:
                # Same draft as load_image(path, size): GUI and CLI see identical pixels.
                img = open_image(path, draft=size)
                arr[i] = np.asarray(resize_square(img, size))
                img.thumbnail((thumbnail_size, thumbnail_size))
                thumbs[i] = np.asarray(img, dtype=np.uint8)
            else:
                arr[i] = load_image(path, size)
        except ImageError as err:
            errors[i] = err.reason + (f": {err.detail}" if err.detail else "")
    return chunk, arr, errors, thumbs


class Classifier:
    """A trained classifier: the Keras model, its class names, input size and metadata."""

    def __init__(self, model: Any, class_names: list[str], image_size: int, info: dict) -> None:
        self.model = model
        self.class_names = class_names
        self.image_size = image_size
        self.info = info
        #: Temperature fitted on the validation split at training (1.0: uncalibrated); every
        #: probability this classifier reports is softmax(log(p) / T).
        self.temperature = float(info.get("temperature") or 1.0)
        self._predict_fn: Any = None
        self._lock = threading.Lock()  # two tabs may predict with one classifier at once
        self._derived: dict[str, Any] = {}  # see derived()
        self._derived_lock = threading.RLock()  # make() may ask for another derived object

    def derived(self, key: str, make: Callable[[Classifier], Any]) -> Any:
        """An object built from this classifier once and kept with it (e.g. the Grad-CAM layer
        chain): ``make(self)`` the first time ``key`` is asked for, the same object after."""
        with self._derived_lock:
            if key not in self._derived:
                self._derived[key] = make(self)
            return self._derived[key]

    def chain(self) -> Chain:
        """The model as ``head(features(x))`` (built and checked once; see
        :func:`resnet_gui.core.model.graph.layer_chain`).

        Raises:
            ModelFileError: the model is not a chain of layers with a spatial feature map.
        """
        from resnet_gui.core.model.graph import layer_chain

        return self.derived("layer_chain", lambda c: layer_chain(c.model, c.image_size))

    @classmethod
    def load(cls, path: str | os.PathLike[str], input_scale: str | None = None) -> Classifier:
        """Load a ``.keras`` or ``.h5`` file with ``safe_mode=True`` (no code in it ever runs).

        Args:
            path: the model file; see :func:`resnet_gui.core.model.files.open_model_file` for
                models made elsewhere (labels.txt, Teachable Machine).
            input_scale: the pixel range a foreign model expects, when it does not say.

        Raises:
            InputScaleNeeded: a foreign model does not say its input scale and none was given.
            ModelFileError: missing, not a model, corrupt, refused by safe mode, not a classifier.
        """
        from resnet_gui.core.model.files import open_model_file

        model, names, size, info = open_model_file(path, input_scale)
        return cls(model, names, size, {**info, "source": str(Path(path).expanduser())})

    @classmethod
    def from_model(cls, model: Any, source: str = "") -> Classifier:
        """Wrap an in-memory model built here (e.g. the one just trained).

        Raises:
            ModelFileError: the model does not map images to class probabilities.
        """
        from resnet_gui.core.model.build import model_card, model_image_size
        from resnet_gui.core.model.files import check_classifier

        try:
            names, info = model_card(model)
            size = model_image_size(model)
        except Exception as exc:  # noqa: BLE001
            raise ModelFileError(f"not an image classifier: {source or model.name}") from exc
        size = int(size or 224)
        check_classifier(model, size, "0-255", source or model.name, probe=False)
        info = {**info, "source": source, "input_scale": "0-255"}
        return cls(model, names, size, info)

    @property
    def input_scale(self) -> str:
        """The pixel range the network takes ("0-255" when it normalises its own input)."""
        return str(self.info.get("input_scale") or "0-255")

    @property
    def architecture(self) -> str:
        """Architecture name from the metadata ('' when unknown)."""
        return str(self.info.get("architecture", ""))

    def _run(self, batch: np.ndarray, calibrated: bool = True) -> np.ndarray:
        with self._lock:
            fn = self._predict_fn or self._make_predict_fn()
        probs = np.asarray(fn(scale_pixels(batch, self.input_scale)))
        return probs if not calibrated else apply_temperature(probs, self.temperature)

    def _make_predict_fn(self) -> Any:
        if self._predict_fn is None:
            from resnet_gui.core.base.tfsetup import import_tensorflow

            tf = import_tensorflow()
            model = self.model
            self._predict_fn = tf.function(
                lambda x: model(x, training=False), reduce_retracing=True
            )
        return self._predict_fn

    def predict_arrays(
        self, images: np.ndarray | Sequence[np.ndarray], *, calibrated: bool = True
    ) -> np.ndarray:
        """Class probabilities for RGB uint8 arrays (any size; resized like files are).

        Args:
            images: the arrays.
            calibrated: apply the model's temperature (False: the network's raw output).

        Returns:
            An (N, num_classes) float array.
        """
        from PIL import Image

        batch = np.stack([
            a if a.shape[:2] == (self.image_size, self.image_size)
            else np.asarray(
                Image.fromarray(np.asarray(a, np.uint8)).resize(
                    (self.image_size, self.image_size), Image.Resampling.BILINEAR
                )
            )
            for a in images
        ])
        return self._run(batch, calibrated)

    def iter_predict(
        self,
        inputs: Iterable[str | os.PathLike[str]],
        *,
        top_k: int = 3,
        batch_size: int = 32,
        should_stop: Callable[[], bool] | None = None,
        min_confidence: float = 0.0,
    ) -> Iterator[list[Prediction]]:
        """Classify files (folders are expanded), yielding one list of results per batch.

        Decoding of the next batch overlaps the model's work on this one; memory holds at most
        two batches of images. A result whose top (calibrated) probability is below
        ``min_confidence`` is marked ``uncertain``.
        """
        for batch in self._iter_batches(inputs, top_k, batch_size, should_stop, min_confidence,
                                        None):
            yield [pred for pred, _ in batch]

    def iter_predict_with_thumbnails(
        self,
        inputs: Iterable[str | os.PathLike[str]],
        thumbnail_size: int,
        *,
        top_k: int = 3,
        batch_size: int = 32,
        should_stop: Callable[[], bool] | None = None,
        min_confidence: float = 0.0,
    ) -> Iterator[list[tuple[Prediction, np.ndarray | None]]]:
        """:meth:`iter_predict`, each result with an upright RGB thumbnail (at most
        ``thumbnail_size`` pixels a side; None for a file that failed) made from the same
        decode, so the app's cards show the very pixels that were classified."""
        yield from self._iter_batches(inputs, top_k, batch_size, should_stop, min_confidence,
                                      thumbnail_size)

    def _iter_batches(
        self, inputs: Iterable[str | os.PathLike[str]], top_k: int, batch_size: int,
        should_stop: Callable[[], bool] | None, min_confidence: float,
        thumbnail_size: int | None,
    ) -> Iterator[list[tuple[Prediction, np.ndarray | None]]]:
        paths = expand_inputs(inputs)
        k = max(1, min(top_k, len(self.class_names)))
        chunks = [paths[i : i + batch_size] for i in range(0, len(paths), batch_size)]
        with ThreadPoolExecutor(max_workers=1) as pool:
            def decode(index: int) -> Any:
                return pool.submit(decode_batch, chunks[index], self.image_size, thumbnail_size)

            pending = decode(0) if chunks else None
            for index in range(len(chunks)):
                if should_stop is not None and should_stop():
                    return
                chunk, arr, errors, thumbs = pending.result()
                if index + 1 < len(chunks):
                    pending = decode(index + 1)
                predictions = self._predictions(chunk, arr, errors, k, min_confidence)
                yield list(zip(predictions, thumbs, strict=True))

    def _predictions(self, chunk: list[str], arr: np.ndarray, errors: dict[int, str], k: int,
                     min_confidence: float) -> list[Prediction]:
        """One decoded batch classified: the top ``k`` of each image, or its error."""
        ok = [i for i in range(len(chunk)) if i not in errors]
        probs = self._run(arr[ok]) if ok else np.zeros((0, len(self.class_names)))
        results: list[Prediction] = []
        row = 0
        for i, path in enumerate(chunk):
            if i in errors:
                results.append(Prediction(path, error=errors[i]))
                continue
            p = probs[row]
            row += 1
            order = np.argsort(-p)[:k]
            results.append(Prediction(
                path, [self.class_names[j] for j in order], [float(p[j]) for j in order],
                uncertain=bool(p[order[0]] < min_confidence),
            ))
        return results

    def predict(
        self, inputs: Iterable[str | os.PathLike[str]], *, top_k: int = 3, batch_size: int = 32,
        min_confidence: float = 0.0,
    ) -> list[Prediction]:
        """Classify files and folders; see :meth:`iter_predict`."""
        out: list[Prediction] = []
        for batch in self.iter_predict(inputs, top_k=top_k, batch_size=batch_size,
                                       min_confidence=min_confidence):
            out.extend(batch)
        return out
