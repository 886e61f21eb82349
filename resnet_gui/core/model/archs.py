"""The architectures the app offers: plain facts, no TensorFlow (the UI and the CLI import this).

Depths are the paper's (He et al. 2015): ResNet-18/34 from basic blocks, ResNet-50/101/152 from
bottleneck blocks; the v2 variants (He et al. 2016, pre-activation) come from keras.applications.
"""

from __future__ import annotations

from dataclasses import dataclass

from resnet_gui.core.base.errors import TrainingError


@dataclass(frozen=True)
class ArchSpec:
    """What an architecture is made of and how its inputs are normalised."""

    name: str
    title: str
    block: str  # "basic" (built here) or "keras" (keras.applications)
    depths: tuple[int, ...]
    preprocess: str  # "caffe", "tf" or "unit"
    keras_name: str | None = None
    weights_file: str | None = None

    @property
    def has_imagenet(self) -> bool:
        """True when Keras can provide ImageNet weights for this architecture."""
        return self.weights_file is not None

    @property
    def description(self) -> str:
        """The title with what it is good for, as the app's architecture menu shows it."""
        if self.name == "resnet18":
            return f"{self.title} (fast, from scratch)"
        if not self.has_imagenet:
            return f"{self.title} (from scratch)"
        return f"{self.title} (ImageNet weights)"


def _keras_spec(name: str, title: str, depths: tuple[int, ...], v2: bool) -> ArchSpec:
    base = name.replace("resnet", "ResNet").replace("v2", "V2")
    return ArchSpec(
        name=name,
        title=title,
        block="keras",
        depths=depths,
        preprocess="tf" if v2 else "caffe",
        keras_name=base,
        weights_file=f"{name}_weights_tf_dim_ordering_tf_kernels_notop.h5",
    )


#: Every architecture, in the order menus list them.
ARCHITECTURES: dict[str, ArchSpec] = {
    "resnet18": ArchSpec("resnet18", "ResNet-18", "basic", (2, 2, 2, 2), "tf"),
    "resnet34": ArchSpec("resnet34", "ResNet-34", "basic", (3, 4, 6, 3), "tf"),
    "resnet50": _keras_spec("resnet50", "ResNet-50", (3, 4, 6, 3), False),
    "resnet101": _keras_spec("resnet101", "ResNet-101", (3, 4, 23, 3), False),
    "resnet152": _keras_spec("resnet152", "ResNet-152", (3, 8, 36, 3), False),
    "resnet50v2": _keras_spec("resnet50v2", "ResNet-50 v2", (3, 4, 6, 3), True),
    "resnet101v2": _keras_spec("resnet101v2", "ResNet-101 v2", (3, 4, 23, 3), True),
    "resnet152v2": _keras_spec("resnet152v2", "ResNet-152 v2", (3, 8, 36, 3), True),
}


def get_arch(name: str) -> ArchSpec:
    """Look up an architecture by name (case-insensitive, '-' and '_' ignored).

    Raises:
        TrainingError: the name is unknown.
    """
    key = name.lower().replace("-", "").replace("_", "")
    if key not in ARCHITECTURES:
        raise TrainingError(
            f"unknown architecture: {name!r}; choose one of {', '.join(ARCHITECTURES)}"
        )
    return ARCHITECTURES[key]


#: The stem's total down-sampling a ResNet-18/34 built here can have: 1 or 2 (one 3x3 conv, for
#: small images), 4 (the paper's 7x7/2 conv and 3x3/2 max-pool).
STEM_STRIDES = (1, 2, 4)


def stem_stride_for(image_size: int) -> int:
    """The stem's total down-sampling so the first stage sees about 32x32 (or less) pixels.

    The paper's 7x7/2 conv + 3x3/2 max-pool (x4) suits 224 px photos but throws most of a small
    image away; a 32-64 px input keeps its detail with a 3x3 stem of stride 1 or 2.

    Stride 1 (four times the compute of stride 2) only up to 40 px: at 48 px stride 2 was as
    accurate in half the time (benchmarks/recipe.py, docs/recipe.md).
    """
    if image_size <= 40:
        return 1
    if image_size <= 96:
        return 2
    return 4
