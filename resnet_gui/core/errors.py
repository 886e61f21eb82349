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


class WeightsUnavailableError(ResnetGuiError):
    """Pretrained weights were asked for but cannot be downloaded or found."""


class TrainingError(ResnetGuiError):
    """Training cannot start or failed with a cause the user can act on."""
