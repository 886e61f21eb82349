"""The learning-rate schedule and early stopping of one training phase (plain Python, no TF).

Two shapes, both with the same linear warm-up from a tenth of the peak:

- **Fixed length** (``patience == 0``): cosine decay from the peak to 1 % of it over the whole
  run; the run lasts exactly ``epochs`` epochs.
- **Early stopping** (``patience > 0``): the peak is held ("warm-up, stable, decay") until the
  validation loss has not improved for ``patience`` epochs; then the same cosine runs over a short
  final stretch (:func:`decay_epochs`) and the run ends. A run whose validation loss keeps
  improving decays over the last stretch of ``epochs`` and ends there. A schedule whose length is
  not known in advance cannot be a cosine over the whole run; holding the peak and decaying at the
  end gives the low-rate finish whenever the end comes.

Nothing stops before :data:`MIN_STEPS` optimiser steps (and :data:`MIN_EPOCHS` epochs): the
BatchNorm moving statistics (momentum 0.9) must have forgotten their initial values, and a few
epochs of noise must not look like a plateau. See docs/recipe.md for the measurements.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: The final learning rate, as a fraction of the peak.
FINAL_FRACTION = 0.01

#: Never stop early before this many optimiser steps: with BatchNorm momentum 0.9 the initial
#: moving statistics then weigh 0.9**60 = 0.2 %.
MIN_STEPS = 60

#: ... nor before this many epochs.
MIN_EPOCHS = 8

#: The default patience, in epochs without a lower validation loss.
DEFAULT_PATIENCE = 6

#: A validation loss counts as lower when it is below the best by this fraction.
MIN_IMPROVEMENT = 1e-3


def decay_epochs(epochs_run: int, steps_per_epoch: int) -> int:
    """Length of the final decay after ``epochs_run`` epochs: a fifth of the run so far, at
    least 2 epochs and at least 20 steps (the moving statistics follow the last weights)."""
    return max(2, math.ceil(20 / max(1, steps_per_epoch)), math.ceil(0.2 * epochs_run))


@dataclass
class Schedule:
    """Learning rate per step, and when to stop, for one phase of ``epochs`` epochs at most.

    ``observe`` is called with each epoch's validation loss; ``decay_start`` (a step, or None
    while the peak is held) is the whole state a checkpoint needs to carry.
    """

    peak: float
    steps_per_epoch: int
    epochs: int
    warmup_steps: int = 0
    patience: int = 0
    decay_start: int | None = None
    best_loss: float = math.inf
    since_best: int = 0
    stopping_reason: str | None = None

    def __post_init__(self) -> None:
        self.steps_per_epoch = max(1, int(self.steps_per_epoch))
        self.epochs = max(1, int(self.epochs))
        if self.patience <= 0:
            self.decay_start = self.warmup_steps

    @property
    def total_steps(self) -> int:
        """Steps in the longest run."""
        return self.epochs * self.steps_per_epoch

    @property
    def min_epochs(self) -> int:
        """The first epoch after which a plateau may end the run."""
        return min(self.epochs, max(MIN_EPOCHS, math.ceil(MIN_STEPS / self.steps_per_epoch)))

    def _decay_bounds(self) -> tuple[int, int]:
        """(first step of the decay, last step) as things stand."""
        if self.decay_start is not None:
            start = self.decay_start
            if self.patience <= 0:
                return start, self.total_steps
            run = start // self.steps_per_epoch
            end = (run + decay_epochs(run, self.steps_per_epoch)) * self.steps_per_epoch
            return start, min(end, self.total_steps)
        tail = min(self.epochs - 1, decay_epochs(self.epochs, self.steps_per_epoch))
        return max(self.warmup_steps, self.total_steps - tail * self.steps_per_epoch), \
            self.total_steps

    @property
    def end_epoch(self) -> int:
        """The epoch the run will end with, as things stand (``epochs`` until a plateau)."""
        return math.ceil(self._decay_bounds()[1] / self.steps_per_epoch)

    def learning_rate(self, step: int) -> float:
        """The learning rate for optimiser step ``step`` (0-based) of this phase."""
        if step < self.warmup_steps:
            return self.peak * (0.1 + 0.9 * step / self.warmup_steps)
        start, end = self._decay_bounds()
        if step < start:
            return self.peak
        t = min(1.0, (step - start) / max(1, end - start))
        cosine = 0.5 * (1.0 + math.cos(math.pi * t))
        return self.peak * ((1.0 - FINAL_FRACTION) * cosine + FINAL_FRACTION)

    def observe(self, epoch: int, val_loss: float | None) -> str | None:
        """Record epoch ``epoch``'s (1-based) validation loss; returns a line for the log when
        the run now moves to its final decay."""
        if self.patience <= 0 or val_loss is None or not math.isfinite(val_loss):
            return None
        if val_loss < self.best_loss * (1.0 - MIN_IMPROVEMENT):
            self.best_loss, self.since_best = float(val_loss), 0
        else:
            self.since_best += 1
        at = epoch * self.steps_per_epoch
        if (self.decay_start is None and self.since_best >= self.patience
                and epoch >= self.min_epochs and at < self._decay_bounds()[0]
                and epoch + decay_epochs(epoch, self.steps_per_epoch) < self.epochs):
            self.decay_start = at
            self.stopping_reason = (
                f"validation loss has not improved for {self.since_best} epochs"
            )
            return (f"{self.stopping_reason}: lowering the learning rate over "
                    f"{self.end_epoch - epoch} more epochs, then stopping at epoch "
                    f"{self.end_epoch} (of up to {self.epochs})")
        return None

    def finished(self, epoch: int) -> bool:
        """True when epoch ``epoch`` (1-based) is the last one."""
        return epoch >= self.end_epoch

    def state(self) -> dict:
        """What a checkpoint keeps to go on with the same schedule."""
        best = self.best_loss if math.isfinite(self.best_loss) else None
        return {"decay_start": self.decay_start, "best_loss": best,
                "since_best": self.since_best, "stopping_reason": self.stopping_reason}

    def restore(self, state: dict | None) -> None:
        """Undo :meth:`state`."""
        if not state:
            return
        self.decay_start = state.get("decay_start", self.decay_start)
        best = state.get("best_loss")
        self.best_loss = math.inf if best is None else float(best)
        self.since_best = int(state.get("since_best", 0))
        self.stopping_reason = state.get("stopping_reason")
