"""Plain data that every part of training shares: the settings a user gives (TrainConfig), the
concrete choices made from them (TrainPlan), the augmentation names, and the progress events.

Nothing here imports TensorFlow, so the UI and the CLI import it freely.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TypedDict

from resnet_gui.core.base.errors import TrainingError

#: Augmentations a user can switch on, in the order they are applied. "crop" is a random resized
#: crop (a quarter to all of the picture, aspect 3:4 to 4:3, scaled back to full size);
#: "brightness" lights each image up or down (every channel alike, so hues stay); "color"
#: jitters brightness and saturation.
AUGMENTATIONS = ("flip", "crop", "rotate", "shift", "zoom", "shear", "brightness", "color",
                 "contrast")

#: What ``augment="auto"`` uses for photos framed at random: mild framing changes (flip, small
#: turns, shifts and zooms) and other light (brightness, contrast), never other hues. Chosen on
#: 6 kinds of real images over 3 seeds (docs/recipe.md, "Choosing the augmentation"): wide crops
#: and saturation jitter lost up to 5 points where scale or colour tells the classes apart.
#: ``recipe.auto_augment`` leaves brightness out where the classes differ in light.
DEFAULT_AUGMENT = ("flip", "rotate", "shift", "zoom", "brightness", "contrast")

#: What "auto" augmentation does, in words (the CLI's help and the app's tooltip say it).
AUTO_AUGMENT_SUMMARY = (
    "for photos, flips, small turns, shifts and zooms, and brightness and contrast changes; no "
    "flips for classes that change when mirrored (digits, letters, signs), and no brightness "
    "changes for classes told apart by their light (one class of dark things, say)"
)

#: What ``augment="auto"`` uses when the classes change when mirrored (digits, letters, signs:
#: see ``recipe.auto_augment``): such content is drawn centred and upright, so no flip and only
#: mild shifts and zooms.
ALIGNED_AUGMENT = ("rotate", "shift", "zoom", "contrast")

#: Where training runs (``--strategy``; ``core.train.distributed`` makes them): auto, one device,
#: every GPU of one machine, or the machines named in TF_CONFIG.
STRATEGIES = ("auto", "one", "mirrored", "multiworker")

#: The words that mean "let the recipe choose the augmentation".
AUTO_AUGMENT = ("auto", "default")

#: How training compensates for classes of unequal size (``--class-balance``): ``auto`` (the
#: recipe decides: ``core.train.recipe.choose_balance``; measured, it does not weigh), ``none``,
#: or ``weights`` (each image's loss weighted by N / (K * n_c), so every class weighs the same
#: in total).
CLASS_BALANCES = ("auto", "none", "weights")


def parse_augment(spec: str | Sequence[str] | None) -> tuple[str, ...]:
    """Parse an explicit augmentation list: 'flip,rotate', a sequence of names, 'all', 'none'.

    Raises:
        TrainingError: an unknown name.
    """
    if spec is None:
        return ()
    names = spec.split(",") if isinstance(spec, str) else list(spec)
    names = [n.strip().lower() for n in names if n.strip()]
    if names in (["none"], []):
        return ()
    if names == ["all"]:
        return AUGMENTATIONS
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise TrainingError(
            f"unknown augmentation {', '.join(unknown)}; choose from {', '.join(AUGMENTATIONS)}, "
            "'all', 'none' or 'auto'"
        )
    return tuple(n for n in AUGMENTATIONS if n in names)


@dataclass
class TrainConfig:
    """Everything a training run needs. ``None`` (and "auto") means "choose from the data"."""

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
    augment: str | tuple[str, ...] | None = "auto"
    #: One of CLASS_BALANCES.
    class_balance: str = "auto"
    seed: int = 42
    width: int | None = None
    #: ResNet-18/34 from scratch: the stem's down-sampling, 1, 2 or 4 (None: from the size).
    stem_stride: int | None = None
    dropout: float | None = None
    label_smoothing: float = 0.1
    weight_decay: float = 5e-4
    #: Epochs without a lower validation loss before the run winds down and stops
    #: (``core.train.schedule``); 0: run every epoch. None: on when the epochs are automatic.
    patience: int | None = None
    memory_budget_mb: int = 2048
    mixed_precision: str = "auto"  # auto | on | off
    feature_cache: bool = True  # frozen pretrained backbone: compute features once, on disk
    feature_views: int = 0  # augmented views cached per training image (besides the original)
    cache_dir: str | None = None  # default: ~/.cache/resnet-gui
    #: Write a checkpoint at each epoch's end (``core.train.checkpoint``), keyed by data and output.
    checkpoints: bool = True
    #: The output path the run is for (part of the checkpoint's key; None in the app).
    run_out: str | None = None
    #: Continue an interrupted run of the same data and output from its last epoch.
    resume: bool = False
    #: One of STRATEGIES: auto, one, mirrored (GPUs of one machine) or
    #: multiworker (machines named in TF_CONFIG). ``batch_size`` is the global batch.
    strategy: str = "auto"
    #: Start from this saved model (``core.train.continuation``): same classes train on, other
    #: classes get a new head on the model's backbone.
    init: str | None = None

    def to_dict(self) -> dict:
        """Plain-data copy (for settings files, checkpoints and the model card)."""
        d = asdict(self)
        if isinstance(d["augment"], tuple):
            d["augment"] = ",".join(d["augment"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """The inverse of :meth:`to_dict` (unknown keys are ignored)."""
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in names})


#: The ``resnet-gui train`` option of each TrainConfig field a user sets on the command line.
#: One table: the parser names its options (and their ``dest``) from it, the CLI reads them back
#: into a TrainConfig, and "Run on a server…" (``core.train.server_command``) writes them from
#: one.
TRAIN_FLAGS: dict[str, str] = {
    "arch": "--arch", "weights": "--weights", "image_size": "--image-size",
    "epochs": "--epochs", "patience": "--patience", "batch_size": "--batch-size",
    "strategy": "--strategy", "learning_rate": "--learning-rate",
    "stem_stride": "--stem-stride", "val_split": "--val-split", "val_dir": "--val-dir",
    "freeze_base": "--freeze-base", "fine_tune_blocks": "--fine-tune-layers",
    "augment": "--augment", "class_balance": "--class-balance",
    "seed": "--seed", "feature_views": "--feature-views",
    "width": "--width", "init": "--init", "resume": "--resume",
}


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
    weight_decay: float
    label_smoothing: float
    #: Early stopping's patience in epochs (0: a fixed number of epochs); see core.train.schedule.
    patience: int = 0
    #: "weights" (the loss weighted per class: ``class_weights``) or "none".
    class_balance: str = "none"
    notes: list[str] = field(default_factory=list)

    @property
    def pretrained(self) -> bool:
        """True when the backbone starts from learned weights."""
        return self.weights is not None

    def to_dict(self) -> dict:
        """Plain-data copy."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainPlan:
        """The inverse of :meth:`to_dict` (unknown keys ignored)."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["augment"] = tuple(known.get("augment") or ())
        return cls(**known)


class BatchEvent(TypedDict):
    """Sent to ``on_batch`` after each training batch (epoch and batch are 1-based)."""

    epoch: int
    epochs: int
    batch: int
    batches: int
    loss: float
    accuracy: float
    elapsed: float
    eta: float


class EpochEvent(TypedDict):
    """Sent to ``on_epoch`` after each epoch; ``val_*`` are None without a validation split."""

    epoch: int
    epochs: int
    loss: float
    accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    learning_rate: float
    seconds: float
    best: bool


class LogEvent(TypedDict, total=False):
    """Sent to ``on_log``: a line a user should read, or the name of the phase that starts."""

    message: str
    phase: str
    offline: str  # weights could not be downloaded for want of a network: why, in plain words


OnBatch = Callable[[BatchEvent], None]
OnEpoch = Callable[[EpochEvent], None]
OnLog = Callable[[LogEvent], None]
ShouldStop = Callable[[], bool]
