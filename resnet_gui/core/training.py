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
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from resnet_gui.core.dataset import DatasetReport, scan_dataset, stratified_split
from resnet_gui.core.errors import TrainingError, WeightsUnavailableError
from resnet_gui.core.models import get_arch, stem_stride_for
from resnet_gui.core.pipeline import StopRequested, parse_augment
from resnet_gui.core.runner import Runner, build_for_plan
from resnet_gui.core.weights import fetch_imagenet_weights, imagenet_unavailable_message

#: Augmentations used when the user does not choose (photos: mirror-symmetric classes assumed).
DEFAULT_AUGMENT = ("flip", "rotate", "shift", "zoom", "contrast")

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
class TrainPlan:
    """The concrete choices made for a run, with a line of explanation for each automatic one."""

    arch: str
    weights: str | None  # None, "imagenet" or a path
    image_size: int
    epochs: int
    head_epochs: int
    batch_size: int
    learning_rate: float
    fine_tune_learning_rate: float
    freeze_base: bool
    fine_tune_blocks: int
    augment: tuple[str, ...]
    width: int
    stem_stride: int
    dropout: float
    bn_momentum: float
    notes: list[str] = field(default_factory=list)

    @property
    def pretrained(self) -> bool:
        """True when the backbone starts from learned weights."""
        return self.weights is not None

    def to_dict(self) -> dict:
        """Plain-data copy."""
        return asdict(self)


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


def _round16(x: float) -> int:
    return int(max(16, 16 * round(x / 16)))


def plan(config: TrainConfig, report: DatasetReport, num_train: int, log: Callback) -> TrainPlan:
    """Resolve the automatic choices of ``config`` for this data set.

    Raises:
        TrainingError / WeightsUnavailableError: contradictory or impossible settings.
    """
    notes: list[str] = []
    weights_arg = (config.weights or "auto").strip()
    arch = (config.arch or "auto").lower()
    if arch == "auto":
        if weights_arg.lower() in ("auto", "imagenet") and _imagenet_obtainable("resnet50", log):
            arch = "resnet50"
            notes.append("architecture resnet50 with ImageNet weights (found in the Keras cache)")
        elif weights_arg.lower() == "imagenet":
            raise WeightsUnavailableError(
                imagenet_unavailable_message("resnet50", "not in the Keras cache")
            )
        else:
            arch = "resnet18"
            if weights_arg.lower() == "auto":
                notes.append(
                    "architecture resnet18 from scratch (no ImageNet weights available; "
                    f"put {get_arch('resnet50').weights_file} in ~/.keras/models for transfer "
                    "learning)"
                )
    spec = get_arch(arch)
    arch = spec.name

    weights: str | None
    wl = weights_arg.lower()
    if wl == "none":
        weights = None
    elif wl == "imagenet":
        if not spec.has_imagenet:
            raise TrainingError(
                f"Keras ships no ImageNet weights for {spec.title}: use resnet50/101/152, "
                "or --weights none"
            )
        fetch_imagenet_weights(arch, log)
        weights = "imagenet"
    elif wl == "auto":
        if spec.has_imagenet and _imagenet_obtainable(arch, log):
            weights = "imagenet"
        else:
            weights = None
            if spec.has_imagenet:
                notes.append(
                    f"ImageNet weights for {spec.title} are not available offline: training from "
                    "scratch"
                )
    else:
        path = Path(weights_arg).expanduser()
        if not path.is_file():
            raise WeightsUnavailableError(f"weights file not found: {path}")
        weights = str(path)
    pretrained = weights is not None

    if config.fine_tune_blocks < 0:
        raise TrainingError(f"--fine-tune-layers must be >= 0, got {config.fine_tune_blocks}")
    freeze = config.freeze_base if config.freeze_base is not None else pretrained
    if config.fine_tune_blocks > 0:
        if not pretrained:
            raise TrainingError(
                "fine-tuning the top blocks needs pretrained weights (--weights imagenet or PATH); "
                "a model from scratch trains all its layers anyway"
            )
        freeze = True
    if freeze and not pretrained:
        notes.append("warning: a frozen backbone with random weights learns little")

    median = report.median_size()
    if config.image_size:
        size = int(config.image_size)
        if not 16 <= size <= 1024:
            raise TrainingError(f"image size must be between 16 and 1024, got {size}")
    elif pretrained:
        size = 224
        notes.append("image size 224 (the size ImageNet weights were trained at)")
    else:
        size = min(64, max(32, _round16(median)))
        notes.append(f"image size {size} (from the images' median side, {median} px)")

    if config.width:
        width = int(config.width)
    else:
        width = 32 if num_train < 3000 else 64
    stem = stem_stride_for(size) if not pretrained else 4
    batch = max(1, int(config.batch_size))
    steps_per_epoch = max(1, math.ceil(num_train / batch))

    if config.epochs:
        epochs = int(config.epochs)
    elif pretrained:
        epochs = 10
    else:
        # About 600 optimiser steps (enough for BatchNorm statistics and the cosine schedule
        # to settle), bounded to 20-60 epochs.
        epochs = int(min(60, max(20, round(600 / steps_per_epoch))))
        notes.append(f"{epochs} epochs ({steps_per_epoch} steps each)")
    if epochs < 1:
        raise TrainingError(f"epochs must be at least 1, got {epochs}")
    head_epochs = epochs
    if config.fine_tune_blocks > 0:
        head_epochs = max(1, epochs // 2)

    lr = config.learning_rate or (1e-3 if pretrained else 2e-3)
    if lr <= 0:
        raise TrainingError(f"learning rate must be positive, got {lr}")

    if config.augment == "default":
        augment = DEFAULT_AUGMENT
    else:
        augment = parse_augment(config.augment)

    dropout = config.dropout if config.dropout is not None else (0.2 if pretrained else 0.0)
    return TrainPlan(
        arch=arch,
        weights=weights,
        image_size=size,
        epochs=epochs,
        head_epochs=head_epochs,
        batch_size=batch,
        learning_rate=float(lr),
        fine_tune_learning_rate=float(lr) * 0.05,
        freeze_base=bool(freeze),
        fine_tune_blocks=int(config.fine_tune_blocks),
        augment=augment,
        width=width,
        stem_stride=stem,
        dropout=float(dropout),
        bn_momentum=0.9,
        notes=notes,
    )


def _imagenet_obtainable(arch: str, log: Callback) -> bool:
    """True when the ImageNet weights are cached or can be downloaded now."""
    try:
        fetch_imagenet_weights(arch, log)
    except WeightsUnavailableError as exc:
        log({"message": str(exc)})
        return False
    return True


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
