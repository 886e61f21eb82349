"""What a training run returns: the model, its plan and history, and how to save it."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnet_gui.core.base.config import TrainPlan
from resnet_gui.core.data.dataset import DatasetReport


@dataclass
class TrainResult:
    """The outcome of :func:`train` (and of ``remote.train_in_subprocess``, the same fields)."""

    model: Any
    class_names: list[str]
    plan: TrainPlan
    history: list[dict]
    best_epoch: int | None
    val_accuracy: float | None
    stopped: bool
    seconds: float
    report: DatasetReport | None
    num_train: int
    num_val: int
    #: The validation images (paths), e.g. to evaluate the model on them afterwards.
    val_images: list[str] = field(default_factory=list)
    #: The temperature that calibrates the model's probabilities (1.0: not calibrated).
    temperature: float = 1.0
    #: A saved copy of ``model`` (a run in a child process hands its model over as a file).
    model_file: str | None = None
    #: The run's checkpoint, deleted once the model is saved.
    checkpoint: Any = None
    #: False on the workers of a multi-worker run that do not write the model (not the chief).
    chief: bool = True

    def save(self, path: str | os.PathLike[str], *, discard_checkpoint: bool = True) -> Path:
        """Save the model atomically as a ``.keras`` file; returns the final path.

        The run's checkpoint is deleted afterwards (the model is safe), unless
        ``discard_checkpoint`` is False (a hand-over copy, not the user's save).

        Raises:
            ModelFileError: the path does not end in ``.keras`` or cannot be written.
        """
        from resnet_gui.core.model.files import atomic_save, save_model

        if self.model_file is not None:
            source = self.model_file
            saved = atomic_save(path, lambda tmp: shutil.copyfile(source, tmp))
        else:
            saved = save_model(self.model, path)
        if self.checkpoint is not None and discard_checkpoint:
            self.checkpoint.discard()  # the model is safe: the run needs no resuming
        return saved
