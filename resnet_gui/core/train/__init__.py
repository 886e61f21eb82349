"""Training: the automatic recipe, the schedule, checkpoints, the Keras loop (one device or
several), the feature cache, continuing from a model, ``train()`` itself and its child process.
Imports ``core.base``, ``core.data`` and ``core.model``, never ``core.use``.

``from resnet_gui.core.train import train, TrainConfig`` is the scripting entry point.
"""

from resnet_gui.core.base.config import TrainConfig
from resnet_gui.core.train.training import TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "train"]
