"""The ResNet zoo, the classification head, and the layers that make a model file self-describing.

ResNet-18/34 are assembled here from basic residual blocks (He et al. 2015): conv-BN-ReLU-conv-BN
plus a shortcut (a 1x1 projection when the shape changes), then ReLU. ResNet-50/101/152 and their
v2 variants come from ``keras.applications``. Every model has the same outer shape:

    image (any size, RGB 0..255) -> "preprocess" (resize + the backbone's own normalisation)
    -> "backbone" -> "pool" (global average) -> ["hidden"] -> "dropout" -> "predictions" (softmax)
    -> "model_card" (identity; holds class names and training metadata)

TensorFlow/Keras are imported inside functions only (see :func:`keras_module`).
"""

from __future__ import annotations

import functools
from typing import Any

from resnet_gui.core.base.errors import WeightsUnavailableError
from resnet_gui.core.model.archs import STEM_STRIDES, get_arch
from resnet_gui.core.model.weights import resolve_weights

#: Per-channel means (BGR order) that Keras' caffe-mode ``preprocess_input`` subtracts.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


@functools.cache
def keras_module() -> Any:
    """Import Keras (and TensorFlow) on first use, registering this module's custom layers."""
    from resnet_gui.core.base.tfsetup import import_keras

    keras = import_keras()
    _register_layers(keras)
    return keras


_LAYERS: dict[str, type] = {}


#: The normalisations a ``Preprocess`` layer can apply (:func:`normalise_pixels`).
PREPROCESS_MODES = ("caffe", "tf", "unit")


def normalise_pixels(ops: Any, x: Any, mode: str) -> Any:
    """Map float RGB 0..255 pixels the way a backbone expects (``keras.ops`` as ``ops``).

    "caffe": RGB->BGR and the ImageNet mean subtracted (ResNet v1); "tf": scaled to [-1, 1]
    (ResNet v2 and the models built here); "unit": [0, 1]; "none": unchanged.
    """
    if mode == "caffe":
        return ops.flip(x, axis=-1) - ops.convert_to_tensor(CAFFE_MEAN_BGR, "float32")
    if mode == "tf":
        return x / 127.5 - 1.0
    if mode == "unit":
        return x / 255.0
    if mode == "none":
        return x
    raise ValueError(f"unknown normalisation mode; Received: mode={mode}")


def _register_layers(keras: Any) -> None:
    """Define and register the custom layers once Keras is imported."""
    if _LAYERS:
        return
    _LAYERS["Preprocess"] = _preprocess_layer(keras)
    _LAYERS["ModelCard"] = _model_card_layer(keras)


def _preprocess_layer(keras: Any) -> type:
    """The ``Preprocess`` layer class, registered with Keras."""
    ops = keras.ops

    @keras.saving.register_keras_serializable(package="resnet_gui", name="Preprocess")
    class Preprocess(keras.layers.Layer):
        """Resize to ``image_size`` and normalise the way the backbone expects.

        Input: RGB images with values 0..255, any size and numeric dtype.
        Modes: "caffe" (RGB->BGR, ImageNet mean subtracted: ResNet v1), "tf" (scaled to [-1, 1]:
        ResNet v2 and the models built here), "unit" (scaled to [0, 1]).
        """

        def __init__(self, image_size: int, mode: str = "tf", **kwargs: Any) -> None:
            super().__init__(**kwargs)
            if mode not in PREPROCESS_MODES:
                raise ValueError(f"unknown preprocessing mode; Received: mode={mode}")
            self.image_size = int(image_size)
            self.mode = mode

        def call(self, x: Any) -> Any:
            x = ops.cast(x, "float32")
            x = keras.ops.image.resize(
                x, (self.image_size, self.image_size), interpolation="bilinear", antialias=True
            )
            return ops.cast(normalise_pixels(ops, x, self.mode), self.compute_dtype)

        def compute_output_shape(self, input_shape: tuple) -> tuple:
            return (input_shape[0], self.image_size, self.image_size, 3)

        def get_config(self) -> dict:
            return {**super().get_config(), "image_size": self.image_size, "mode": self.mode}

    return Preprocess


def _model_card_layer(keras: Any) -> type:
    """The ``ModelCard`` layer class, registered with Keras."""

    @keras.saving.register_keras_serializable(package="resnet_gui", name="ModelCard")
    class ModelCard(keras.layers.Layer):
        """An identity layer that carries class names and training metadata inside the file."""

        def __init__(
            self, class_names: list[str], info: dict | None = None, **kwargs: Any
        ) -> None:
            super().__init__(**kwargs)
            self.class_names = [str(c) for c in class_names]
            self.info = dict(info or {})

        def call(self, x: Any) -> Any:
            return x

        def compute_output_shape(self, input_shape: tuple) -> tuple:
            return input_shape

        def get_config(self) -> dict:
            return {
                **super().get_config(),
                "class_names": self.class_names,
                "info": self.info,
            }

    return ModelCard


def custom_layer(name: str) -> type:
    """The registered custom layer class ``name`` ("Preprocess" or "ModelCard")."""
    keras_module()
    return _LAYERS[name]


# --------------------------------------------------------------------------- basic-block ResNets


def basic_block(
    x: Any, filters: int, stride: int = 1, *, name: str, bn_momentum: float = 0.9
) -> Any:
    """One basic residual block: relu(BN(conv(relu(BN(conv(x))))) + shortcut(x)).

    The shortcut is the identity, or a strided 1x1 convolution + BN when the shape changes.
    """
    keras = keras_module()
    layers = keras.layers
    eps = 1.001e-5
    in_channels = x.shape[-1]
    if stride != 1 or in_channels != filters:
        shortcut = layers.Conv2D(
            filters, 1, strides=stride, use_bias=False, name=f"{name}_0_conv"
        )(x)
        shortcut = layers.BatchNormalization(
            momentum=bn_momentum, epsilon=eps, name=f"{name}_0_bn"
        )(shortcut)
    else:
        shortcut = x
    y = layers.Conv2D(
        filters, 3, strides=stride, padding="same", use_bias=False, name=f"{name}_1_conv"
    )(x)
    y = layers.BatchNormalization(momentum=bn_momentum, epsilon=eps, name=f"{name}_1_bn")(y)
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(y)
    # Zero-init the last BN's scale: each block starts as the identity, which trains faster.
    y = layers.BatchNormalization(
        momentum=bn_momentum, epsilon=eps, gamma_initializer="zeros", name=f"{name}_2_bn"
    )(y)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def build_basic_resnet(
    depths: tuple[int, ...],
    *,
    width: int = 64,
    stem_stride: int = 4,
    bn_momentum: float = 0.9,
    name: str = "resnet18",
) -> Any:
    """Build a basic-block ResNet backbone (no head) taking normalised images of any size.

    Args:
        depths: blocks per stage, e.g. (2, 2, 2, 2) for ResNet-18, (3, 4, 6, 3) for ResNet-34.
        width: filters of the first stage; later stages double it (64 in the paper).
        stem_stride: 1 or 2 (a 3x3 conv of that stride) or 4 (the paper's 7x7/2 + max-pool).
        bn_momentum: BatchNorm moving-average momentum.
        name: the model's name.

    Returns:
        A ``keras.Model`` mapping (None, H, W, 3) to the last stage's feature map.
    """
    keras = keras_module()
    layers = keras.layers
    if stem_stride not in STEM_STRIDES:
        raise ValueError(f"stem_stride must be one of {STEM_STRIDES}; Received: "
                         f"stem_stride={stem_stride}")
    inputs = keras.Input((None, None, 3), name="image")
    if stem_stride == 4:
        x = layers.Conv2D(width, 7, strides=2, padding="same", use_bias=False, name="stem_conv")(
            inputs
        )
    else:
        x = layers.Conv2D(
            width, 3, strides=stem_stride, padding="same", use_bias=False, name="stem_conv"
        )(inputs)
    x = layers.BatchNormalization(momentum=bn_momentum, epsilon=1.001e-5, name="stem_bn")(x)
    x = layers.Activation("relu", name="stem_relu")(x)
    if stem_stride == 4:
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    for stage, blocks in enumerate(depths, start=1):
        filters = width * 2 ** (stage - 1)
        for block in range(1, blocks + 1):
            stride = 2 if (block == 1 and stage > 1) else 1
            x = basic_block(
                x, filters, stride, name=f"conv{stage + 1}_block{block}", bn_momentum=bn_momentum
            )
    return keras.Model(inputs, x, name=name)


def build_backbone(
    arch: str,
    *,
    weights: str | None = None,
    width: int = 64,
    stem_stride: int = 4,
    bn_momentum: float = 0.9,
) -> Any:
    """Build the backbone of ``arch``; ``weights`` is None, 'imagenet' or a weights-file path.

    Raises:
        WeightsUnavailableError: the weights cannot be had, or do not fit the architecture.
        TrainingError: the architecture is unknown, or has no ImageNet weights.
    """
    spec = get_arch(arch)
    path = resolve_weights(spec, weights)
    keras = keras_module()
    if spec.block == "keras":
        constructor = getattr(keras.applications, spec.keras_name or "")
        # Build without weights and load the file ourselves: one path for the cached ImageNet
        # file and a user's file alike, and Keras never tries the network.
        backbone = constructor(include_top=False, weights=None, input_shape=(None, None, 3))
        if path is None:
            for layer in backbone.layers:
                if layer.__class__.__name__ == "BatchNormalization":
                    layer.momentum = bn_momentum
    else:
        backbone = build_basic_resnet(
            spec.depths, width=width, stem_stride=stem_stride, bn_momentum=bn_momentum,
            name=spec.name,
        )
    if path is not None:
        try:
            backbone.load_weights(path)
        except Exception as exc:  # noqa: BLE001 - h5py/keras raise many kinds
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise WeightsUnavailableError(
                f"cannot load weights file {path} into {spec.title}: {first[:300]}"
            ) from exc
    return backbone


def residual_block_names(backbone: Any) -> list[str]:
    """The backbone's residual blocks, first to last, as layer-name prefixes ('conv5_block3')."""
    seen: list[str] = []
    for layer in backbone.layers:
        parts = layer.name.split("_")
        if len(parts) >= 2 and parts[0].startswith("conv") and parts[1].startswith("block"):
            prefix = f"{parts[0]}_{parts[1]}"
            if prefix not in seen:
                seen.append(prefix)
    return seen


def set_trainable_blocks(backbone: Any, top_blocks: int) -> int:
    """Freeze the backbone except its top ``top_blocks`` residual blocks (BatchNorm stays frozen).

    Returns:
        The number of layers made trainable.
    """
    blocks = residual_block_names(backbone)
    chosen = set(blocks[-top_blocks:]) if top_blocks > 0 else set()
    backbone.trainable = True
    made = 0
    for layer in backbone.layers:
        prefix = "_".join(layer.name.split("_")[:2])
        is_bn = layer.__class__.__name__ == "BatchNormalization"
        layer.trainable = prefix in chosen and not is_bn
        made += int(layer.trainable and bool(layer.weights))
    return made


def build_classifier(
    backbone: Any,
    *,
    class_names: list[str],
    image_size: int,
    preprocess: str,
    frozen_inference_bn: bool,
    dropout: float = 0.0,
    hidden_units: int = 0,
    info: dict | None = None,
) -> Any:
    """Wrap a backbone into the full, self-describing classifier.

    Args:
        backbone: from :func:`build_backbone`.
        class_names: one per output, in label order.
        image_size: the side the preprocess layer resizes to.
        preprocess: normalisation mode of the backbone ("caffe", "tf", "unit").
        frozen_inference_bn: call the backbone with ``training=False`` (pretrained backbones:
            BatchNorm keeps its ImageNet statistics, also while fine-tuning).
        dropout: dropout rate before the last layer.
        hidden_units: an optional Dense+ReLU layer of this width in the head (0: none).
        info: training metadata stored in the file.

    Returns:
        A ``keras.Model`` from (None, None, None, 3) images to class probabilities.
    """
    keras = keras_module()
    layers = keras.layers
    inputs = keras.Input((None, None, 3), name="image")
    x = custom_layer("Preprocess")(image_size, preprocess, name="preprocess")(inputs)
    x = backbone(x, training=False) if frozen_inference_bn else backbone(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    if hidden_units:
        x = layers.Dense(hidden_units, activation="relu", name="hidden")(x)
    if dropout > 0:
        x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Dense(len(class_names), activation="softmax", dtype="float32", name="predictions")(
        x
    )
    outputs = custom_layer("ModelCard")(class_names, info or {}, name="model_card")(x)
    return keras.Model(inputs, outputs, name=f"{backbone.name}_classifier")


def build_head(feature_dim: int, num_classes: int, *, dropout: float, hidden_units: int) -> Any:
    """The head alone (pooled features -> probabilities), with the same layer names as in
    :func:`build_classifier`, so trained head weights can be copied across."""
    keras = keras_module()
    layers = keras.layers
    inputs = keras.Input((feature_dim,), name="features")
    x = inputs
    if hidden_units:
        x = layers.Dense(hidden_units, activation="relu", name="hidden")(x)
    if dropout > 0:
        x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32", name="predictions")(
        x
    )
    return keras.Model(inputs, outputs, name="head")


def model_card(model: Any) -> tuple[list[str], dict]:
    """(class names, info) stored in a model built by :func:`build_classifier`.

    A plain Keras model without a card gets names ``class_0 .. class_{n-1}`` and empty info.
    """
    for layer in model.layers:
        if layer.__class__.__name__ == "ModelCard":
            return list(layer.class_names), dict(layer.info)
    n = int(model.outputs[0].shape[-1])
    return [f"class_{i}" for i in range(n)], {}


def set_model_info(model: Any, **info: Any) -> None:
    """Update the metadata stored in the model's card (saved with the model)."""
    for layer in model.layers:
        if layer.__class__.__name__ == "ModelCard":
            layer.info.update(info)
            return


def model_image_size(model: Any) -> int | None:
    """The side the model's preprocess layer resizes to (None for a model without one)."""
    for layer in model.layers:
        if layer.__class__.__name__ == "Preprocess":
            return int(layer.image_size)
    shape = model.inputs[0].shape
    return int(shape[1]) if shape[1] is not None else None
