"""Continue training from a saved model (``train --init MODEL.keras``).

Same classes: the whole model (backbone and head) trains on, e.g. for more epochs or on new
images. Other classes: the backbone is kept and a new head is made (adding a class to a trained
model). The architecture, image size, width and stem come from the model, not from the data.

With the same classes the learning rate is three tenths of a fresh run's: the weights are
already good, but a continued run must also unlearn what was wrong (the usual reason to train
again is fixed labels). Measured with ``benchmarks/retrain.py`` (5 % of the labels wrong, then
fixed; docs/review.md): on textures, held-out accuracy 0.782 at three tenths against 0.749 at a
tenth (3 seeds, ahead on each) and 0.787 at the full rate; on digits 0.992 at each rate (2
seeds), in 0.70 of a fresh run's time at three tenths against 1.65 at a tenth. A new head starts
from random weights and needs a fresh run's rate: measured on digits (a 5-class model continued
on 10 classes, 6 epochs, ResNet-18 width 16), held-out accuracy was 0.35 at a tenth, 0.54 at
three tenths, 0.80 at the full rate; a fresh model reached 0.79 in the same 6 epochs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from resnet_gui.core.base.config import TrainConfig, TrainPlan
from resnet_gui.core.base.errors import TrainingError

#: A continued run's learning rates with the same classes, relative to a fresh run's.
CONTINUE_LR_FACTOR = 0.3


@dataclass
class InitModel:
    """What a continued run takes from the saved model."""

    path: str
    model: Any
    backbone: Any
    class_names: list[str]
    plan: TrainPlan


def load_init(path: str | os.PathLike[str]) -> InitModel:
    """Open the model to continue from.

    Raises:
        TrainingError: the file is not a model trained by resnet-gui (no plan in its card), or
            cannot be loaded.
    """
    from resnet_gui.core.model.files import open_model_file

    model, names, _, info = open_model_file(path)
    plan = info.get("plan")
    if not isinstance(plan, dict):
        raise TrainingError(
            f"--init needs a model trained by resnet-gui (its card holds the plan): {path}"
        )
    init_plan = TrainPlan.from_dict(plan)
    backbone = next((layer for layer in model.layers if layer.name == init_plan.arch), None)
    if backbone is None:
        raise TrainingError(f"{path} holds no {init_plan.arch} backbone to continue from")
    return InitModel(str(path), model, backbone, names, init_plan)


def check_config(config: TrainConfig, init: InitModel) -> TrainConfig:
    """``config`` with the model's architecture and size; settings that contradict them are
    explained.

    Raises:
        TrainingError: an architecture, image size, width or weights choice that cannot apply.
    """
    p = init.plan
    name = os.path.basename(init.path)
    if config.arch not in ("auto", p.arch):
        raise TrainingError(f"{name} is a {p.arch}; a continued run keeps its architecture "
                            f"(leave out --arch {config.arch}, or train afresh)")
    if config.image_size not in (None, p.image_size):
        raise TrainingError(f"{name} was trained at {p.image_size} px; a continued run keeps "
                            f"that size (leave out --image-size, or train afresh)")
    if config.width not in (None, p.width):
        raise TrainingError(f"{name} has width {p.width}; a continued run keeps it")
    if (config.weights or "auto") != "auto":
        raise TrainingError("--init gives the starting weights; leave out --weights")
    return replace(config, arch=p.arch, image_size=p.image_size, width=p.width,
                   weights="none")


def continued_plan(plan: TrainPlan, init: InitModel, class_names: list[str]) -> TrainPlan:
    """The data's plan, with the model's structure and a continued run's learning rates."""
    p = init.plan
    same = list(class_names) == list(init.class_names)
    note = (f"continuing from {os.path.basename(init.path)}: "
            + ("same classes, the whole model trains on" if same else
               "other classes, the backbone is kept and a new head is trained"))
    factor = CONTINUE_LR_FACTOR if same else 1.0
    return replace(
        plan, weights=p.weights, stem_stride=p.stem_stride, bn_momentum=p.bn_momentum,
        dropout=p.dropout, learning_rate=plan.learning_rate * factor,
        fine_tune_learning_rate=plan.fine_tune_learning_rate * factor,
        notes=[*plan.notes, note],
    )


def copy_head(init: InitModel, model: Any, class_names: list[str]) -> bool:
    """Copy the saved head's weights when the classes are the same; True when copied."""
    if list(class_names) != list(init.class_names):
        return False
    for name in ("hidden", "predictions"):
        try:
            source = init.model.get_layer(name)
        except ValueError:
            continue
        model.get_layer(name).set_weights(source.get_weights())
    return True
