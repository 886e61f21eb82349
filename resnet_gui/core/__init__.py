"""The headless core: no Qt here, and TensorFlow only ever imported inside functions."""

from resnet_gui.core.base.errors import (
    DatasetError,
    ImageError,
    ModelFileError,
    ResnetGuiError,
    TrainingError,
    WeightsUnavailableError,
)

__all__ = [
    "DatasetError",
    "ImageError",
    "ModelFileError",
    "ResnetGuiError",
    "TrainingError",
    "WeightsUnavailableError",
]
