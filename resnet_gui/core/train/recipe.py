"""The default recipe: turn a TrainConfig's automatic values into concrete choices for a data set.

See ``docs/recipe.md`` for why each default is what it is, and the measurements behind them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from resnet_gui.core.base.config import (
    ALIGNED_AUGMENT,
    AUTO_AUGMENT,
    CLASS_BALANCES,
    DEFAULT_AUGMENT,
    OnLog,
    TrainConfig,
    TrainPlan,
    parse_augment,
)
from resnet_gui.core.base.errors import TrainingError, WeightsUnavailableError
from resnet_gui.core.data.dataset import BALANCE_RATIO, DatasetReport, is_few
from resnet_gui.core.model.archs import STEM_STRIDES, get_arch, stem_stride_for
from resnet_gui.core.model.weights import resolve_weights
from resnet_gui.core.train.schedule import DEFAULT_PATIENCE

#: At or above this mirror asymmetry (see ``cues.mirror_asymmetry``) a mirrored image looks
#: like another class: measured 0.89-0.98 on handwritten digits and arrows, 0.0-0.30 on photo
#: crops, textures and faces.
MIRROR_ASYMMETRY_LIMIT = 0.5

#: At or above this light cue (``cues.light_and_colour_cues``: the share of the images'
#: brightness that their class explains) light tells the classes apart, and brightness jitter
#: (+/-20 % of the range) would blur it. Measured 0.02-0.26 where classes vary in light or hardly
#: differ in it, 0.68-0.70 where each class keeps its own light (docs/recipe.md, "Light").
LIGHT_CUE_LIMIT = 0.5

#: At or above this colour cue an explicit ``color`` jitter gets a warning in the log.
COLOUR_CUE_LIMIT = 0.5


def auto_augment(report: DatasetReport) -> tuple[tuple[str, ...], str | None]:
    """The augmentations "auto" picks for this data, and a note when one was left out: flip
    for classes that change when mirrored, brightness for classes that differ in light."""
    chosen, notes = DEFAULT_AUGMENT, list[str]()
    asym = report.mirror_asymmetry
    if asym is not None and asym >= MIRROR_ASYMMETRY_LIMIT:
        chosen = ALIGNED_AUGMENT
        notes.append(f"no flip: these classes change when mirrored, like drawn, centred "
                     f"content (mirror asymmetry {asym:.2f}; digits, letters and signs do)")
    light = report.light_cue
    if light is not None and light >= LIGHT_CUE_LIMIT and "brightness" in chosen:
        chosen = tuple(a for a in chosen if a != "brightness")
        notes.append(f"no brightness jitter: the classes differ in light (their class explains "
                     f"{light:.0%} of the images' brightness), a cue it would blur")
    return chosen, "; ".join(notes) or None


def photometric_warnings(report: DatasetReport, augment: tuple[str, ...]) -> list[str]:
    """Warnings for an explicit list that jitters a property which tells these classes apart."""
    out: list[str] = []
    light, colour = report.light_cue, report.colour_cue
    jitters_light = [a for a in ("brightness", "color") if a in augment]
    if jitters_light and light is not None and light >= LIGHT_CUE_LIMIT:
        out.append(f"warning: the classes differ in light (their class explains {light:.0%} of "
                   f"the images' brightness); the {' and '.join(jitters_light)} jitter may blur "
                   "that cue")
    if "color" in augment and colour is not None and colour >= COLOUR_CUE_LIMIT:
        out.append(f"warning: the classes differ in colour (their class explains {colour:.0%} "
                   "of the images' mean colour); colour jitter may blur that cue")
    return out


def choose_balance(config: TrainConfig, counts: dict[str, int]) -> tuple[str, str | None]:
    """"weights" or "none" for ``config.class_balance`` on classes of these sizes, and a note
    saying why when the recipe chose for classes of unequal size. "auto" is "none": class
    weights were measured against no weights on 3:1 and 10:1 versions of two sets over 5 seeds
    and lost on average, in balanced accuracy too (docs/recipe.md, "Classes of unequal size").

    Raises:
        TrainingError: an unknown setting (as :func:`check_settings`).
    """
    check_settings(config)
    asked = (config.class_balance or "auto").strip().lower()
    if asked != "auto":
        return asked, None
    sizes = {name: n for name, n in counts.items() if n > 0}
    if len(sizes) < 2:
        return "none", None
    small, large = min(sizes, key=sizes.__getitem__), max(sizes, key=sizes.__getitem__)
    ratio = sizes[large] / sizes[small]
    if ratio < BALANCE_RATIO:
        return "none", None
    return "none", (f"classes of unequal size ('{large}' has {sizes[large]} images, '{small}' "
                    f"{sizes[small]}): not weighted (class weights lost on average where "
                    "measured: docs/recipe.md); more photos of the small classes help most, "
                    "--class-balance weights weighs them")


#: No class's loss weight exceeds this (a class of 3 images beside one of 500 would otherwise
#: weigh 80 a photo: a few photos then make the steps; measured up to 10:1, where the largest
#: weight is 1.8 with four classes and 5.5 with two).
MAX_CLASS_WEIGHT = 10.0


def class_weights(labels: np.ndarray, num_classes: int) -> list[float]:
    """Each class's loss weight N / (K * n_c) for ``labels`` (N images, K classes with images),
    at most :data:`MAX_CLASS_WEIGHT`: every class then weighs the same in total, and the mean
    weight over the images is 1, so the loss keeps its scale. A class without images gets 1 (it
    is never looked up)."""
    counts = np.bincount(np.asarray(labels, np.int64), minlength=num_classes)
    present = int((counts > 0).sum())
    total = float(counts.sum())
    return [min(MAX_CLASS_WEIGHT, total / (present * n)) if n else 1.0
            for n in counts.tolist()]


def _round16(x: float) -> int:
    return int(max(16, 16 * round(x / 16)))


def check_settings(config: TrainConfig) -> None:
    """Refuse the settings that are wrong whatever the data, before the scan and before
    TensorFlow is imported: a bad ``--patience -1`` fails in milliseconds. As in
    :func:`make_plan`, 0 (or None) for the image size, epochs or learning rate means "auto".

    Raises:
        TrainingError: with what is wrong and what is allowed.
    """
    checks = [
        (config.fine_tune_blocks < 0,
         f"--fine-tune-layers must be >= 0, got {config.fine_tune_blocks}"),
        (bool(config.image_size) and not 16 <= int(config.image_size or 0) <= 1024,
         f"image size must be between 16 and 1024, got {config.image_size}"),
        (config.stem_stride is not None and config.stem_stride not in STEM_STRIDES,
         f"stem stride must be one of {', '.join(map(str, STEM_STRIDES))}, got {config.stem_stride}"),
        (config.epochs is not None and config.epochs < 0,
         f"epochs must be at least 1, got {config.epochs}"),
        (config.patience is not None and config.patience < 0,
         f"patience must be 0 (off) or more epochs, got {config.patience}"),
        (config.learning_rate is not None and config.learning_rate < 0,
         f"learning rate must be positive, got {config.learning_rate}"),
        ((config.class_balance or "auto").strip().lower() not in CLASS_BALANCES,
         f"--class-balance must be one of {', '.join(CLASS_BALANCES)}, "
         f"got {config.class_balance!r}"),
        (config.fine_tune_blocks > 0 and (config.weights or "").lower() == "none",
         "fine-tuning the top blocks needs pretrained weights (--weights imagenet or PATH); "
         "a model from scratch trains all its layers anyway"),
    ]
    for wrong, message in checks:
        if wrong:
            raise TrainingError(message)
    if (config.arch or "auto").lower() != "auto":
        spec = get_arch(config.arch)
        if config.stem_stride is not None and spec.block != "basic":
            raise TrainingError("--stem-stride applies to ResNet-18/34 trained from scratch")
    if not (isinstance(config.augment, str)
            and config.augment.strip().lower() in AUTO_AUGMENT):
        parse_augment(config.augment)


@dataclass
class WeightsChoice:
    """The architecture and its starting weights: None (from scratch), "imagenet" or a file."""

    arch: str
    weights: str | None
    notes: list[str]


def choose_weights(config: TrainConfig, log: OnLog) -> WeightsChoice:
    """Resolve ``--arch`` and ``--weights``, looking in the Keras cache (and downloading once
    a session, where a network is). The only part of the plan that touches files.

    Raises:
        WeightsUnavailableError: ImageNet weights were asked for and cannot be had.
        TrainingError: an unknown architecture or a missing weights file.
    """
    notes: list[str] = []
    wanted = (config.weights or "auto").strip()
    wl = wanted.lower()
    arch = (config.arch or "auto").lower()
    if arch == "auto":
        missing = _imagenet_missing("resnet50", log) if wl in ("auto", "imagenet") else None
        if wl in ("auto", "imagenet") and missing is None:
            arch = "resnet50"
            notes.append("architecture resnet50 with ImageNet weights (found in the Keras cache)")
        elif wl == "imagenet":
            raise WeightsUnavailableError(missing or "ImageNet weights are not available")
        else:
            arch = "resnet18"
            if wl == "auto":
                notes.append(f"architecture resnet18, trained from scratch. {missing}")
    spec = get_arch(arch)
    weights: str | None = None
    if wl == "imagenet":
        resolve_weights(spec, "imagenet", log)  # fails now, with the reason, not at build time
        weights = "imagenet"
    elif wl == "auto" and spec.has_imagenet:
        missing = _imagenet_missing(spec.name, log)
        weights = "imagenet" if missing is None else None
        if missing is not None:
            notes.append(f"{spec.title} is trained from scratch. {missing}")
    elif wl not in ("auto", "none"):
        weights = str(resolve_weights(spec, wanted, log))
    return WeightsChoice(spec.name, weights, notes)


def make_plan(
    config: TrainConfig, report: DatasetReport, num_train: int, log: OnLog,
    choice: WeightsChoice | None = None,
) -> TrainPlan:
    """Resolve the automatic choices of ``config`` for this data set.

    Args:
        config: the user's settings (checked by :func:`check_settings`).
        report: the scan of the data.
        num_train: training images (over every worker).
        log: where a download of weights is announced.
        choice: the architecture and weights, when :func:`choose_weights` already ran.

    Raises:
        TrainingError / WeightsUnavailableError: contradictory or impossible settings.
    """
    check_settings(config)
    choice = choice or choose_weights(config, log)
    notes = list(choice.notes)
    spec, pretrained = get_arch(choice.arch), choice.weights is not None
    freeze = _freeze(config, pretrained, notes)
    size = _image_size(config, report, pretrained, notes)
    stem = stem_stride_for(size) if not pretrained else 4
    if config.stem_stride is not None:
        if pretrained or spec.block != "basic":
            raise TrainingError("--stem-stride applies to ResNet-18/34 trained from scratch")
        stem = int(config.stem_stride)
    batch = max(1, int(config.batch_size))
    epochs, patience = _epochs_and_patience(config, report, num_train, pretrained, notes)
    lr = config.learning_rate or (1e-3 if pretrained else 2e-3)
    if isinstance(config.augment, str) and config.augment.strip().lower() in AUTO_AUGMENT:
        augment, note = auto_augment(report)
        notes.extend([note] if note else [])
    else:
        augment = parse_augment(config.augment)
        notes.extend(photometric_warnings(report, augment))
    balance, note = choose_balance(config, report.counts)
    notes.extend([note] if note else [])
    dropout = config.dropout if config.dropout is not None else (0.2 if pretrained else 0.0)
    return TrainPlan(
        arch=choice.arch, weights=choice.weights, image_size=size, epochs=epochs,
        head_epochs=max(1, epochs // 2) if config.fine_tune_blocks > 0 else epochs,
        batch_size=batch, learning_rate=float(lr), fine_tune_learning_rate=float(lr) * 0.05,
        freeze_base=bool(freeze), fine_tune_blocks=int(config.fine_tune_blocks),
        augment=augment, width=int(config.width or (32 if num_train < 3000 else 64)),
        stem_stride=stem, dropout=float(dropout), bn_momentum=0.9,
        weight_decay=float(config.weight_decay), label_smoothing=float(config.label_smoothing),
        patience=patience, class_balance=balance, notes=notes,
    )


def _freeze(config: TrainConfig, pretrained: bool, notes: list[str]) -> bool:
    """Frozen backbone: by default with pretrained weights; always when fine-tuning the top."""
    freeze = config.freeze_base if config.freeze_base is not None else pretrained
    if config.fine_tune_blocks > 0:
        if not pretrained:
            raise TrainingError(
                "fine-tuning the top blocks needs pretrained weights (--weights imagenet or "
                "PATH); a model from scratch trains all its layers anyway"
            )
        freeze = True
    if freeze and not pretrained:
        notes.append("warning: a frozen backbone with random weights learns little")
    return bool(freeze)


def _image_size(config: TrainConfig, report: DatasetReport, pretrained: bool,
                notes: list[str]) -> int:
    """The input side: as asked; 224 for ImageNet weights; else from the images' median."""
    if config.image_size:
        return int(config.image_size)
    if pretrained:
        notes.append("image size 224 (the size ImageNet weights were trained at)")
        return 224
    median = report.median_size()
    size = min(64, max(32, _round16(median)))
    notes.append(f"image size {size} (from the images' median side, {median} px)")
    return size


def _epochs_and_patience(config: TrainConfig, report: DatasetReport, num_train: int,
                         pretrained: bool, notes: list[str]) -> tuple[int, int]:
    """How many epochs, and after how many without a better validation loss to stop."""
    steps_per_epoch = max(1, math.ceil(num_train / max(1, int(config.batch_size))))
    if config.epochs:
        epochs = int(config.epochs)
    elif pretrained:
        epochs = 10
    else:
        # About 600 optimiser steps (enough for BatchNorm statistics and the cosine schedule
        # to settle), bounded to 20-60 epochs.
        epochs = int(min(60, max(20, round(600 / steps_per_epoch))))
    if config.patience is not None:
        patience = int(config.patience)
    else:  # "--epochs N" asks for N epochs; automatic epochs are a ceiling (from scratch:
        # a pretrained head's 10 cheap epochs are too few for a plateau to count)
        patience = 0 if config.epochs or pretrained else DEFAULT_PATIENCE
        per_class = num_train / max(1, sum(1 for n in report.counts.values() if n))
        if patience and is_few(per_class):
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
    return epochs, patience


def _imagenet_missing(arch: str, log: OnLog) -> str | None:
    """None when the ImageNet weights of ``arch`` are cached or were downloaded now; otherwise
    why not and what to do, in one plain line (the network is tried at most once a session:
    :func:`~resnet_gui.core.model.weights.download_weights_file`)."""
    try:
        resolve_weights(get_arch(arch), "imagenet", log)
    except WeightsUnavailableError as exc:
        return str(exc)
    return None


