"""Exception types users can act on. The CLI prints them as one line (exit 2); the GUI as a dialog."""

from __future__ import annotations


class ResnetGuiError(Exception):
    """Base class of every error the app reports to the user as a plain message."""


class DatasetError(ResnetGuiError):
    """The dataset folder cannot be used (missing, empty, a single class, ...)."""


class ImageError(ResnetGuiError):
    """One file cannot be used as an image. ``reason`` is a short category, ``detail`` the cause."""

    def __init__(self, path: str, reason: str, detail: str = "") -> None:
        self.path = str(path)
        self.reason = reason
        self.detail = detail
        super().__init__(f"{self.path}: {reason}" + (f" ({detail})" if detail else ""))


class ModelFileError(ResnetGuiError):
    """A model file is missing, corrupt, not a Keras model, or refused by safe mode."""


class InputError(ResnetGuiError):
    """A value the user gave does not fit (a class the model lacks, an unwritable path, ...)."""


class WeightsUnavailableError(ResnetGuiError):
    """Pretrained weights were asked for but cannot be downloaded or found."""


class TrainingError(ResnetGuiError):
    """Training cannot start or failed with a cause the user can act on."""


class Stopped(ResnetGuiError):
    """The user asked to stop. The one way every long task says so: scanning, decoding,
    training (before its first batch: nothing to keep) and evaluating. Not a failure; the
    message says what was kept, if anything."""


#: A training run's :class:`Stopped` message when it ends before its first batch.
STOPPED_BEFORE_TRAINING = "stopped before training began; nothing to keep"


class RemoteTrainingError(TrainingError):
    """Training in a child process failed; ``child_traceback`` is the child's traceback."""

    def __init__(self, message: str, child_traceback: str = "") -> None:
        super().__init__(message)
        self.child_traceback = child_traceback


def describe_exception(exc: BaseException) -> str:
    """A message a user can act on: ours as they are, others named and explained."""
    if isinstance(exc, ResnetGuiError):
        return str(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    if "ResourceExhausted" in name or isinstance(exc, MemoryError) or "OOM" in text:
        return (
            "Out of memory. Try a smaller batch size, a smaller image size or a smaller "
            f"architecture. ({name})"
        )
    return f"Unexpected error ({name}): {text[:400]}"
