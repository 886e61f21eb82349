"""Check an export in its own runtime against the ``.keras`` model, on real images.

SavedModel runs in TensorFlow, TFLite in the LiteRT interpreter (``ai_edge_litert``, else
TensorFlow's own ``tf.lite.Interpreter``), ONNX in onnxruntime. Images are decoded and resized
by the app's own decoder; the reference is the classifier's calibrated probabilities.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from resnet_gui.core.base.atomic import write_text
from resnet_gui.core.base.errors import InputError, ModelFileError
from resnet_gui.core.use.export import Exported, images_of

if TYPE_CHECKING:
    from resnet_gui.core.use.inference import Classifier

#: Lowest top-1 agreement with the ``.keras`` model that ``--check`` accepts.
MIN_AGREEMENT = 0.99
MIN_AGREEMENT_INT8 = 0.97


@dataclass
class CheckResult:
    """How closely an exported model agrees with the ``.keras`` model on real images."""

    agreement: float
    images: int
    max_abs_diff: float
    threshold: float

    @property
    def passed(self) -> bool:
        """Agreement at or above the threshold for the format."""
        return self.agreement >= self.threshold

    def line(self) -> str:
        """``agreement 0.993 (top-1, N images), max |dp| 0.0004``."""
        return (
            f"agreement {self.agreement:.3f} (top-1, {self.images} images), "
            f"max |dp| {self.max_abs_diff:.4f}"
        )


def add_check_to_card(exported: Exported, check: CheckResult) -> None:
    """Record a check's figures in the export's ``model_card.json``."""
    card = json.loads(exported.card_path.read_text(encoding="utf-8"))
    card["check"] = {
        "agreement": round(check.agreement, 6), "images": check.images,
        "max_abs_diff": float(f"{check.max_abs_diff:.3g}"), "passed": check.passed,
    }
    write_text(exported.card_path, json.dumps(card, indent=2) + "\n")


def export_and_check(
    classifier: Classifier,
    fmt: str,
    out: str | os.PathLike[str],
    *,
    int8: bool = False,
    calibration: str | os.PathLike[str] | None = None,
    check: str | os.PathLike[str] | None = None,
    progress: Callable[[str], None] | None = None,
    on_exported: Callable[[Exported], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[Exported, CheckResult | None]:
    """Export ``classifier``; with ``check`` (a folder of images), run the export in its own
    runtime, compare, and record the result in the export's model card. The CLI and the app
    both export through here.

    ``progress`` hears a line before each long step, ``on_exported`` the export once written.
    A check cut short by ``should_stop`` proves nothing: it is not recorded (None).

    Raises:
        InputError: a bad format, path or option, or no readable image to check on.
        ModelFileError: the conversion failed, or the export's runtime cannot run it.
    """
    from resnet_gui.core.use.export import export_model

    def stopped() -> bool:
        return should_stop is not None and should_stop()

    if progress is not None:
        progress(f"Exporting {fmt}…")
    exported = export_model(classifier, fmt, out, int8=int8, calibration=calibration)
    if on_exported is not None:
        on_exported(exported)
    if not check or stopped():
        return exported, None
    if progress is not None:
        progress(f"Checking {exported.path.name} in its own runtime…")
    result = check_export(exported, fmt, classifier, check, int8=int8, should_stop=should_stop)
    if stopped():
        return exported, None
    add_check_to_card(exported, result)
    return exported, result


def runtime(path: str | os.PathLike[str], fmt: str) -> Callable[[np.ndarray], np.ndarray]:
    """A function running the exported file in its own runtime: float32 batch -> probabilities.

    SavedModel runs in TensorFlow, TFLite in the LiteRT interpreter (``ai_edge_litert``, else
    TensorFlow's own ``tf.lite.Interpreter``), ONNX in onnxruntime.
    """
    if fmt == "savedmodel":
        from resnet_gui.core.base.tfsetup import import_tensorflow

        loaded = import_tensorflow().saved_model.load(str(path))
        return lambda x: np.asarray(loaded.serve(x))
    if fmt == "onnx":
        try:
            import onnxruntime
        except ImportError as exc:
            raise ModelFileError(
                "checking ONNX needs onnxruntime: pip install 'resnet-gui[export]'"
            ) from exc
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return lambda x: np.asarray(session.run(None, {name: x})[0])
    return _tflite_runner(str(path))


def _tflite_runner(path: str) -> Callable[[np.ndarray], np.ndarray]:
    import warnings

    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from resnet_gui.core.base.tfsetup import import_tensorflow

        Interpreter = import_tensorflow().lite.Interpreter  # noqa: N806
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TensorFlow's own interpreter warns that it is deprecated
        interpreter = Interpreter(model_path=path)
    inp = interpreter.get_input_details()[0]["index"]
    out = interpreter.get_output_details()[0]["index"]

    interpreter.allocate_tensors()

    def run(x: np.ndarray) -> np.ndarray:
        results = []
        for one in x:  # the converted graph has a fixed batch of 1
            interpreter.set_tensor(inp, one[None])
            interpreter.invoke()
            results.append(np.array(interpreter.get_tensor(out)[0]))
        return np.stack(results)

    return run


def check_export(
    exported: Exported | Path,
    fmt: str,
    classifier: Classifier,
    data: str | os.PathLike[str],
    *,
    int8: bool = False,
    batch_size: int = 32,
    should_stop: Callable[[], bool] | None = None,
) -> CheckResult:
    """Run the exported file in its runtime on ``data``'s images and compare with the model.

    Images are decoded and resized by the app's own decoder; the reference is the classifier's
    calibrated probabilities.

    Raises:
        InputError: no readable image in ``data``.
    """
    from resnet_gui.core.base.tfsetup import filtered_stderr

    with filtered_stderr():  # LiteRT's notices about its CPU delegate
        try:
            return _check(exported, fmt, classifier, data, int8, batch_size, should_stop)
        except (InputError, ModelFileError):
            raise
        except Exception as exc:  # noqa: BLE001 - a runtime refusing the file is an answer
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelFileError(
                f"the {fmt} runtime cannot run {Path(str(getattr(exported, 'path', exported)))}"
                f": {first[:300]}"
            ) from exc


def _check(
    exported: Exported | Path, fmt: str, classifier: Classifier, data: str | os.PathLike[str],
    int8: bool, batch_size: int, should_stop: Callable[[], bool] | None,
) -> CheckResult:
    path = exported.path if isinstance(exported, Exported) else Path(exported)
    run = runtime(path, fmt)
    agree = total = 0
    max_diff = 0.0
    batch: list[np.ndarray] = []

    def flush() -> None:
        nonlocal agree, total, max_diff
        x = np.stack(batch).astype(np.float32)
        want = classifier.predict_arrays(x.astype(np.uint8))
        got = run(x)
        agree += int(np.sum(np.argmax(want, 1) == np.argmax(got, 1)))
        total += len(x)
        max_diff = max(max_diff, float(np.max(np.abs(want - got))))
        batch.clear()

    for _, arr in images_of(data, classifier.image_size):
        if should_stop is not None and should_stop():
            break
        batch.append(arr)
        if len(batch) == batch_size:
            flush()
    if batch:
        flush()
    if total == 0:
        raise InputError(f"no readable images in {data} to check the export with")
    threshold = MIN_AGREEMENT_INT8 if int8 else MIN_AGREEMENT
    return CheckResult(agree / total, total, max_diff, threshold)
