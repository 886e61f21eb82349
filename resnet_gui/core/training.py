"""Training: a plain function with progress callables, so the GUI, the CLI and tests share it.

``train(config, on_batch=..., on_epoch=..., on_log=..., should_stop=...)`` takes only plain
callables and passes only plain data (floats, ints, strings, dicts) to them; it never touches Qt.
See ``docs/recipe.md`` for why the defaults are what they are.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from resnet_gui.core.dataset import DatasetReport, scan_dataset, stratified_split
from resnet_gui.core.errors import TrainingError
from resnet_gui.core.models import get_arch
from resnet_gui.core.pipeline import StopRequested
from resnet_gui.core.recipe import TrainPlan, plan
from resnet_gui.core.runner import Runner, build_for_plan

Callback = Callable[[dict], None]


@dataclass
class TrainConfig:
    """Everything a training run needs. ``None`` means "choose from the data" (see :func:`plan`)."""

    data_dir: str
    arch: str = "auto"
    weights: str = "auto"  # auto | imagenet | none | PATH
    image_size: int | None = None
    epochs: int | None = None
    batch_size: int = 32
    learning_rate: float | None = None
    val_split: float = 0.2
    val_dir: str | None = None
    freeze_base: bool | None = None
    fine_tune_blocks: int = 0
    augment: str | tuple[str, ...] | None = "default"
    seed: int = 42
    width: int | None = None
    dropout: float | None = None
    label_smoothing: float = 0.1
    weight_decay: float = 5e-4
    memory_budget_mb: int = 2048
    mixed_precision: str = "auto"  # auto | on | off
    feature_cache: bool = True  # frozen pretrained backbone: compute features once, on disk
    feature_views: int = 0  # augmented views cached per training image (besides the original)
    cache_dir: str | None = None  # default: ~/.cache/resnet-gui

    def to_dict(self) -> dict:
        """Plain-data copy (for settings files and the model card)."""
        d = asdict(self)
        if isinstance(d["augment"], tuple):
            d["augment"] = ",".join(d["augment"])
        return d


@dataclass
class TrainResult:
    """The outcome of :func:`train`."""

    model: Any
    class_names: list[str]
    plan: TrainPlan
    history: list[dict]
    best_epoch: int | None
    val_accuracy: float | None
    stopped: bool
    seconds: float
    report: DatasetReport
    num_train: int
    num_val: int

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save the model atomically as a ``.keras`` file; returns the final path."""
        from resnet_gui.core.inference import save_model

        return save_model(self.model, path)


def _noop(_: dict) -> None:
    return None


def train(
    config: TrainConfig,
    *,
    on_batch: Callback | None = None,
    on_epoch: Callback | None = None,
    on_log: Callback | None = None,
    should_stop: Callable[[], bool] | None = None,
    report: DatasetReport | None = None,
) -> TrainResult:
    """Train a classifier on ``config.data_dir``.

    Args:
        config: the settings; automatic ones are resolved by :func:`plan`.
        on_batch: called after each training batch with ``{"epoch", "epochs", "batch",
            "batches", "loss", "accuracy", "elapsed", "eta"}`` (epoch and batch 1-based).
        on_epoch: called after each epoch with ``{"epoch", "epochs", "loss", "accuracy",
            "val_loss", "val_accuracy", "learning_rate", "seconds", "best"}``.
        on_log: called with ``{"message"}`` for lines a user should read (and ``{"phase"}``).
        should_stop: polled after every batch; True ends training cleanly within a batch,
            keeping the best weights so far.
        report: a scan of ``config.data_dir`` already made (skips scanning again).

    Returns:
        A :class:`TrainResult` whose model carries its class names and metadata.

    Raises:
        DatasetError, TrainingError, WeightsUnavailableError: with a message for the user.
    """
    started = time.perf_counter()
    on_batch = on_batch or _noop
    on_epoch = on_epoch or _noop
    log = on_log or _noop
    stop = should_stop or (lambda: False)

    def say(msg: str) -> None:
        log({"message": msg})

    if report is None:
        log({"phase": "scanning"})
        report = scan_dataset(config.data_dir, should_stop=stop)
    for bad in report.unusable:
        say(f"skipped {bad.path}: {bad.reason}" + (f" ({bad.detail})" if bad.detail else ""))
    for warning in report.warnings:
        say(f"warning: {warning}")

    if config.val_dir:
        val_report = scan_dataset(config.val_dir, classes=report.classes, should_stop=stop)
        for bad in val_report.unusable:
            say(f"skipped {bad.path}: {bad.reason}")
        train_recs, val_recs = list(report.images), list(val_report.images)
    else:
        tr, va = stratified_split(report.labels, config.val_split, config.seed)
        train_recs = [report.images[i] for i in tr]
        val_recs = [report.images[i] for i in va]
    train_paths = [r.path for r in train_recs]
    val_paths = [r.path for r in val_recs]
    train_labels = np.array([r.label for r in train_recs], dtype=np.int32)
    val_labels = np.array([r.label for r in val_recs], dtype=np.int32)
    if len(np.unique(train_labels)) < 2:
        raise TrainingError("the training split has fewer than two classes with images")

    log({"phase": "preparing"})
    the_plan = plan(config, report, len(train_paths), log)
    for note in the_plan.notes:
        say(note)
    say(
        f"{len(train_paths)} training and {len(val_paths)} validation images, "
        f"{len(report.classes)} classes; {get_arch(the_plan.arch).title}, "
        f"{the_plan.image_size} px, {the_plan.epochs} epochs, batch {the_plan.batch_size}"
    )

    from resnet_gui.core import pipeline
    from resnet_gui.core.models import keras_module
    from resnet_gui.core.tfsetup import gpu_supports_mixed_precision

    keras = keras_module()
    keras.utils.set_random_seed(config.seed)
    use_mp = config.mixed_precision == "on" or (
        config.mixed_precision == "auto" and gpu_supports_mixed_precision()
    )
    keras.mixed_precision.set_global_policy("mixed_float16" if use_mp else "float32")
    if use_mp:
        say("mixed precision (float16) on the GPU")

    num_classes = len(report.classes)
    size = the_plan.image_size
    budget = config.memory_budget_mb * 1024 * 1024
    in_memory = (len(train_paths) + len(val_paths)) * size * size * 3 <= budget
    augmenter = pipeline.build_augmenter(the_plan.augment, config.seed)
    use_cache = (
        config.feature_cache and in_memory and the_plan.freeze_base and the_plan.pretrained
        and the_plan.fine_tune_blocks == 0
    )
    batch = the_plan.batch_size
    try:
        if in_memory:
            log({"phase": "decoding"})
            say(f"decoding {len(train_paths) + len(val_paths)} images into memory…")
            x_train, _ = pipeline.decode_many(train_paths, size, should_stop=stop)
            x_val, _ = pipeline.decode_many(val_paths, size, should_stop=stop)
        if use_cache:
            from resnet_gui.core.features import cached_feature_datasets

            log({"phase": "extracting features"})
            model, backbone, head, train_ds, val_ds = cached_feature_datasets(
                the_plan, config, report.classes, augmenter, x_train, x_val,
                train_labels, val_labels, [r.sha1 for r in train_recs],
                [r.sha1 for r in val_recs], say=say, should_stop=stop,
            )
        elif in_memory:
            train_ds = pipeline.make_dataset(
                x_train, train_labels, num_classes, batch_size=batch, shuffle=True,
                seed=config.seed, augmenter=augmenter,
            )
            val_ds = pipeline.make_dataset(
                x_val, val_labels, num_classes, batch_size=batch, shuffle=False, seed=config.seed,
            ) if val_paths else None
        else:
            say("the images do not fit the memory budget: decoding from disk every epoch")
            train_ds = pipeline.make_file_dataset(
                train_paths, train_labels, num_classes, size, batch_size=batch, shuffle=True,
                seed=config.seed, augmenter=augmenter,
            )
            val_ds = pipeline.make_file_dataset(
                val_paths, val_labels, num_classes, size, batch_size=batch, shuffle=False,
                seed=config.seed,
            ) if val_paths else None
    except StopRequested:
        raise TrainingError("training stopped before it began") from None

    if not use_cache:
        log({"phase": "building"})
        model, backbone = build_for_plan(the_plan, report.classes)
        head = None
    steps = max(1, math.ceil(len(train_paths) / batch))
    runner = Runner(
        keras, head if head is not None else model, backbone, the_plan, steps,
        val_ds is not None, on_batch=on_batch, on_epoch=on_epoch, log=log, stop=stop,
        config=config,
    )
    log({"phase": "training"})
    runner.fit(train_ds, val_ds)
    if head is not None:
        from resnet_gui.core.features import copy_head_weights

        copy_head_weights(head, model)

    best = runner.best
    val_acc = best["val_accuracy"] if best and val_ds is not None else None
    from resnet_gui.core.models import set_model_info
    from resnet_gui.core.tfsetup import versions

    set_model_info(
        model,
        architecture=the_plan.arch,
        image_size=size,
        weights=("imagenet" if the_plan.weights == "imagenet" else
                 ("file" if the_plan.weights else "none")),
        trained_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        val_accuracy=val_acc,
        best_epoch=best["epoch"] if best else None,
        epochs_run=len(runner.history),
        num_train=len(train_paths),
        num_val=len(val_paths),
        dataset=str(report.root),
        plan=the_plan.to_dict(),
        **versions(),
    )
    seconds = time.perf_counter() - started
    if runner.stopped:
        say("training stopped by the user; keeping the best weights so far")
    if val_acc is not None:
        say(f"best validation accuracy {val_acc:.4f} at epoch {best['epoch']} ({seconds:.0f} s)")
    return TrainResult(
        model=model,
        class_names=list(report.classes),
        plan=the_plan,
        history=runner.history,
        best_epoch=best["epoch"] if best else None,
        val_accuracy=val_acc,
        stopped=runner.stopped,
        seconds=seconds,
        report=report,
        num_train=len(train_paths),
        num_val=len(val_paths),
    )
