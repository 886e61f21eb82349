"""``resnet-gui --selftest``: prove that an installation (a pip install or the app bundle) works.

Each step runs the real code a user's run would, on images made here, in a temporary folder:
TensorFlow loads, a small ResNet trains a few steps, it predicts, saves and reloads with the same
answers, and exports to TFLite whose interpreter agrees. The first failing step is named.
Headless: the command line adds a step that opens the window offscreen.
"""

from __future__ import annotations

import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: Generated images per class, and their side in pixels.
IMAGES_PER_CLASS = 12
SIDE = 32
#: Largest difference between the probabilities of two runtimes that still counts as the same.
TOLERANCE = 1e-3


@dataclass
class SelftestContext:
    """What the steps hand on to each other."""

    folder: Path
    say: Callable[[str], None]
    values: dict[str, Any] = field(default_factory=dict)


Step = tuple[str, Callable[[SelftestContext], str]]


def _tensorflow(ctx: SelftestContext) -> str:
    from resnet_gui.core.base.tfsetup import device_description, import_tensorflow

    tf = import_tensorflow()
    return f"TensorFlow {tf.__version__} on {device_description()}"


def _images(ctx: SelftestContext) -> str:
    """Two classes anyone can tell apart, as PNG and JPEG files (both decoders are checked)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    data = ctx.folder / "data"
    for name, axis in (("horizontal", 0), ("vertical", 1)):
        (data / name).mkdir(parents=True)
        for i in range(IMAGES_PER_CLASS):
            stripes = ((np.arange(SIDE) // 4) % 2 * 200).astype(np.float64)
            plane = np.repeat(stripes[:, None] if axis == 0 else stripes[None, :], SIDE, 1 - axis)
            noisy = np.clip(plane + rng.normal(0, 25, plane.shape), 0, 255).astype(np.uint8)
            suffix = "png" if i % 2 else "jpg"
            Image.fromarray(np.stack([noisy] * 3, -1)).save(data / name / f"{i:02d}.{suffix}")
    ctx.values["data"] = data
    return f"{2 * IMAGES_PER_CLASS} images in 2 classes"


def _config(ctx: SelftestContext, epochs: int) -> Any:
    from resnet_gui.core.base.config import TrainConfig

    return TrainConfig(
        data_dir=str(ctx.values["data"]), arch="resnet18", weights="none", image_size=SIDE,
        epochs=epochs, batch_size=8, augment="none", width=16, patience=0, checkpoints=False,
        feature_cache=False, cache_dir=str(ctx.folder / "cache"), strategy="one",
    )


def _losses(result: Any) -> str:
    losses = [row["loss"] for row in result.history]
    if not losses or not all(np.isfinite(losses)):
        raise RuntimeError(f"training losses are not finite: {losses}")
    return f"{len(losses)} epoch(s), loss {losses[0]:.3f} -> {losses[-1]:.3f}"


def _train(ctx: SelftestContext) -> str:
    from resnet_gui.core.train.training import train

    result = train(_config(ctx, epochs=2))
    ctx.values["result"] = result
    return _losses(result)


def _train_in_child(ctx: SelftestContext) -> str:
    """How the window trains: in a spawned child process (in the app bundle, the bundle's own
    executable started again)."""
    from resnet_gui.core.train.remote import train_in_subprocess

    return _losses(train_in_subprocess(_config(ctx, epochs=1))) + ", in a child process"


def _predict(ctx: SelftestContext) -> str:
    from resnet_gui.core.use.inference import Classifier

    classifier = Classifier.from_model(ctx.values["result"].model)
    predictions = classifier.predict([str(ctx.values["data"])], top_k=2)
    if len(predictions) != 2 * IMAGES_PER_CLASS or any(p.error for p in predictions):
        raise RuntimeError(f"{len(predictions)} predictions, errors: "
                           f"{[p.error for p in predictions if p.error]}")
    ctx.values["probabilities"] = _probabilities(classifier, ctx)
    return f"{len(predictions)} images classified"


def _probabilities(classifier: Any, ctx: SelftestContext) -> np.ndarray:
    from resnet_gui.core.use.export import images_of

    batch = np.stack([x for _, x in images_of(ctx.values["data"], classifier.image_size)])
    probs = np.asarray(classifier.predict_arrays(batch))
    if not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
        raise RuntimeError("probabilities do not sum to 1")
    ctx.values["batch"] = batch
    return probs


def _save_and_reload(ctx: SelftestContext) -> str:
    from resnet_gui.core.use.inference import Classifier

    path = ctx.values["result"].save(ctx.folder / "model.keras")
    classifier = Classifier.load(path)
    diff = float(np.abs(np.asarray(classifier.predict_arrays(ctx.values["batch"]))
                        - ctx.values["probabilities"]).max())
    if diff > TOLERANCE:
        raise RuntimeError(f"the reloaded model answers differently (by {diff:.4f})")
    ctx.values["classifier"] = classifier
    return f"{path.stat().st_size / 1e6:.1f} MB, same answers (max difference {diff:.1e})"


def _export_tflite(ctx: SelftestContext) -> str:
    from resnet_gui.core.use.export import export_model
    from resnet_gui.core.use.export_check import runtime

    exported = export_model(ctx.values["classifier"], "tflite", ctx.folder / "model.tflite")
    run = runtime(exported.path, "tflite")
    diff = float(np.abs(run(ctx.values["batch"].astype(np.float32))
                        - ctx.values["probabilities"]).max())
    if diff > TOLERANCE:
        raise RuntimeError(f"the TFLite model answers differently (by {diff:.4f})")
    return f"{exported.path.stat().st_size / 1e6:.1f} MB, same answers (max difference {diff:.1e})"


STEPS: list[Step] = [
    ("import TensorFlow", _tensorflow),
    ("make images", _images),
    ("train", _train),
    ("train in a child process", _train_in_child),
    ("predict", _predict),
    ("save and reload", _save_and_reload),
    ("export TFLite", _export_tflite),
]


def run_selftest(say: Callable[[str], None] = print, extra: list[Step] | None = None,
                 debug: bool = False) -> str | None:
    """Run every step, saying one line each; returns None when all passed, else the name of the
    step that failed (the later steps are skipped).

    Args:
        say: where the lines go.
        extra: further steps (the command line adds one that opens the window).
        debug: also say the failing step's traceback.
    """
    with tempfile.TemporaryDirectory(prefix="resnet-gui-selftest-") as tmp:
        ctx = SelftestContext(Path(tmp), say)
        for name, step in STEPS + list(extra or []):
            started = time.perf_counter()
            try:
                detail = step(ctx)
            except Exception as exc:  # noqa: BLE001 - every failure is reported by its step
                say(f"FAILED  {name}: {type(exc).__name__}: {exc}")
                if debug:
                    say(traceback.format_exc())
                return name
            say(f"ok      {name} ({time.perf_counter() - started:.1f} s): {detail}")
    return None
