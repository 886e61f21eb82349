"""The default recipe: turn a TrainConfig's automatic values into concrete choices for a data set.

See ``docs/recipe.md`` for why each default is what it is, and the measurements behind them.
"""

from __future__ import annotations

import math

from resnet_gui.core.archs import get_arch, stem_stride_for
from resnet_gui.core.config import (
    ALIGNED_AUGMENT,
    AUTO_AUGMENT,
    DEFAULT_AUGMENT,
    OnLog,
    TrainConfig,
    TrainPlan,
    parse_augment,
)
from resnet_gui.core.dataset import FEW_IMAGES, DatasetReport
from resnet_gui.core.errors import TrainingError, WeightsUnavailableError
from resnet_gui.core.schedule import DEFAULT_PATIENCE
from resnet_gui.core.weights import resolve_weights

#: At or above this mirror asymmetry (see ``dataset.mirror_asymmetry``) a mirrored image looks
#: like another class: measured 0.89-0.98 on handwritten digits and arrows, 0.0-0.30 on photo
#: crops, textures and faces.
MIRROR_ASYMMETRY_LIMIT = 0.5


def auto_augment(report: DatasetReport) -> tuple[tuple[str, ...], str | None]:
    """The augmentations "auto" picks for this data, and a note when flip was left out."""
    asym = report.mirror_asymmetry
    if asym is not None and asym >= MIRROR_ASYMMETRY_LIMIT:
        return (
            ALIGNED_AUGMENT,
            f"no flip: these classes change when mirrored, like drawn, centred "
            f"content (mirror asymmetry {asym:.2f}; digits, letters and signs do)",
        )
    return DEFAULT_AUGMENT, None


def _round16(x: float) -> int:
    return int(max(16, 16 * round(x / 16)))


def make_plan(
    config: TrainConfig, report: DatasetReport, num_train: int, log: OnLog
) -> TrainPlan:
    """Resolve the automatic choices of ``config`` for this data set.

    Raises:
        TrainingError / WeightsUnavailableError: contradictory or impossible settings.
    """
    notes: list[str] = []
    weights_arg = (config.weights or "auto").strip()
    arch = (config.arch or "auto").lower()
    if arch == "auto":
        missing = (_imagenet_missing("resnet50", log)
                   if weights_arg.lower() in ("auto", "imagenet") else None)
        if weights_arg.lower() in ("auto", "imagenet") and missing is None:
            arch = "resnet50"
            notes.append("architecture resnet50 with ImageNet weights (found in the Keras cache)")
        elif weights_arg.lower() == "imagenet":
            raise WeightsUnavailableError(missing or "ImageNet weights are not available")
        else:
            arch = "resnet18"
            if weights_arg.lower() == "auto":
                notes.append(f"architecture resnet18, trained from scratch. {missing}")
    spec = get_arch(arch)
    arch = spec.name

    weights: str | None
    wl = weights_arg.lower()
    if wl == "none":
        weights = None
    elif wl == "imagenet":
        resolve_weights(spec, "imagenet", log)  # fails now, with the reason, not at build time
        weights = "imagenet"
    elif wl == "auto":
        missing = _imagenet_missing(arch, log) if spec.has_imagenet else None
        if spec.has_imagenet and missing is None:
            weights = "imagenet"
        else:
            weights = None
            if spec.has_imagenet:
                notes.append(f"{spec.title} is trained from scratch. {missing}")
    else:
        weights = str(resolve_weights(spec, weights_arg, log))
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
    if config.stem_stride is not None:
        if config.stem_stride not in (1, 2, 4):
            raise TrainingError(f"stem stride must be 1, 2 or 4, got {config.stem_stride}")
        if pretrained or spec.block != "basic":
            raise TrainingError("--stem-stride applies to ResNet-18/34 trained from scratch")
        stem = int(config.stem_stride)
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
    if epochs < 1:
        raise TrainingError(f"epochs must be at least 1, got {epochs}")
    if config.patience is not None:
        patience = int(config.patience)
        if patience < 0:
            raise TrainingError(f"patience must be 0 (off) or more epochs, got {patience}")
    else:  # "--epochs N" asks for N epochs; automatic epochs are a ceiling (from scratch:
        # a pretrained head's 10 cheap epochs are too few for a plateau to count)
        patience = 0 if config.epochs or pretrained else DEFAULT_PATIENCE
        per_class = num_train / max(1, sum(1 for n in report.counts.values() if n))
        if patience and per_class <= FEW_IMAGES:
            patience = 0
            notes.append(
                f"no early stopping: with about {per_class:.0f} training images per class the "
                "validation split is too small, and too like the training images, to tell when "
                "learning is done (measured in docs/recipe.md)")
    if patience and config.val_split <= 0 and not config.val_dir:
        patience = 0
        notes.append("no early stopping: there is no validation split to watch")
    if not config.epochs and not pretrained:
        notes.append(f"{epochs} epochs ({steps_per_epoch} steps each)" + (
            f" at most: training winds down and stops once the validation loss has not "
            f"improved for {patience} epochs" if patience else ""))
    head_epochs = epochs
    if config.fine_tune_blocks > 0:
        head_epochs = max(1, epochs // 2)

    lr = config.learning_rate or (1e-3 if pretrained else 2e-3)
    if lr <= 0:
        raise TrainingError(f"learning rate must be positive, got {lr}")

    if isinstance(config.augment, str) and config.augment.strip().lower() in AUTO_AUGMENT:
        augment, note = auto_augment(report)
        if note:
            notes.append(note)
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
        weight_decay=float(config.weight_decay),
        label_smoothing=float(config.label_smoothing),
        patience=patience,
        notes=notes,
    )


def _imagenet_missing(arch: str, log: OnLog) -> str | None:
    """None when the ImageNet weights of ``arch`` are cached or were downloaded now; otherwise
    why not and what to do, in one plain line (the network is tried at most once a session:
    :func:`~resnet_gui.core.weights.download_weights_file`)."""
    try:
        resolve_weights(get_arch(arch), "imagenet", log)
    except WeightsUnavailableError as exc:
        return str(exc)
    return None


