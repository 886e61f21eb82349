"""Will a training batch fit in memory? An estimate before training starts (CPU), a clear
message when the device runs out anyway (GPU).

Training keeps every layer's output of the batch for the backward pass. The estimate sums the
backbone's layer outputs for one image (shapes computed symbolically, nothing runs), multiplies
by :data:`ACTIVATION_FACTOR` (what the framework really keeps, measured, see
docs/reliability.md) and by the batch, and adds the weights with their gradients and the
optimizer's two slots.
"""

from __future__ import annotations

import math
import os
from typing import Any

from resnet_gui.core.base.errors import TrainingError

#: Peak memory per image in a batch over the sum of the layers' float32 outputs. Measured
#: (ResNet-18 width 32, TensorFlow 2.21 on CPU, peak RSS at two batch sizes): 0.71 at 32 px,
#: 0.89 at 64 px; 1.0 keeps a margin. See docs/reliability.md.
ACTIVATION_FACTOR = 1.0
#: Share of the free memory a run may plan to use.
USABLE_SHARE = 0.8


def available_bytes() -> int | None:
    """Memory the system can give now (Linux: MemAvailable), None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def activation_elements(backbone: Any, image_size: int) -> int:
    """Float values the backbone's layers output for one image of ``image_size``."""
    from resnet_gui.core.model.build import keras_module

    keras = keras_module()
    layers = [layer for layer in backbone.layers if layer.__class__.__name__ != "InputLayer"]
    probe = keras.Model(backbone.inputs, [layer.output for layer in layers])
    specs = probe.compute_output_spec(keras.KerasTensor((1, image_size, image_size, 3)))
    return int(sum(math.prod(s.shape[1:]) for s in specs))


def training_bytes(backbone: Any, image_size: int) -> tuple[int, int]:
    """(bytes per image in a batch, fixed bytes) of training the whole backbone."""
    per_image = int(activation_elements(backbone, image_size) * 4 * ACTIVATION_FACTOR)
    fixed = int(backbone.count_params()) * 4 * 4  # weights, gradients, two Adam slots
    return per_image, fixed


def check_batch_fits(backbone: Any, image_size: int, batch_size: int,
                     free: int | None = None) -> int | None:
    """Refuse a batch that cannot fit in memory; returns the estimate in bytes (None: unknown).

    Raises:
        TrainingError: naming the estimate, the free memory and a batch size that fits.
    """
    free = available_bytes() if free is None else free
    if free is None:
        return None
    per_image, fixed = training_bytes(backbone, image_size)
    need = fixed + per_image * batch_size
    budget = free * USABLE_SHARE
    if need <= budget:
        return need
    fits = int((budget - fixed) // per_image) if budget > fixed else 0
    suggestion = 2 ** int(math.log2(fits)) if fits >= 1 else 0
    advice = (f"use --batch-size {suggestion} or less" if suggestion else
              "use a smaller image size or architecture")
    raise TrainingError(
        f"a batch of {batch_size} images at {image_size} px needs about {need / 2**30:.1f} GB "
        f"to train, and {free / 2**30:.1f} GB is free: {advice}"
    )


def out_of_memory_message(batch_size: int) -> str:
    """What to say when the device ran out of memory during training."""
    smaller = max(1, batch_size // 2)
    return (f"out of memory at batch size {batch_size}: try --batch-size {smaller} (in the "
            "app: Batch size), a smaller image size or a smaller architecture")
