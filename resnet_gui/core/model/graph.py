"""A classifier seen as a chain of layers: features (the last spatial map) and then the head.

Grad-CAM needs the last convolutional feature map and a way to go on from it to the class
scores; export needs the same layers without resizing and augmentation. In a model built here the
backbone is a model nested in the classifier, and a nested layer's ``.output`` belongs to the
backbone's own graph (asking Keras for ``Model(classifier.input, backbone.output)`` fails with
"Graph disconnected"). So instead of slicing the graph we call layers one after another:

    features = backbone(preprocess(x));  scores = head(features)

:func:`layer_chain` lists the top-level layers in order, opening a nested model only when the
step from feature map to vector happens inside it (a Teachable Machine model is a Sequential of
Sequentials), and checks that calling the chain gives exactly what the model gives; models that
are not a chain (branches at the top level) are refused with :class:`ModelFileError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from resnet_gui.core.base.errors import ModelFileError

#: Layer classes that only act in training (never part of an export or an explanation).
TRAINING_ONLY = ("Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout")


def _is_model(layer: Any) -> bool:
    return hasattr(layer, "layers") and hasattr(layer, "inputs")


def _rank(layer: Any) -> int:
    return len(layer.output.shape)


def _expand(model: Any) -> list[Any]:
    out: list[Any] = []
    for layer in model.layers:
        name = layer.__class__.__name__
        if name == "InputLayer":
            continue
        if _is_model(layer) and _rank(layer) != 4 and any(
            len(inner.output.shape) == 4 for inner in layer.layers
            if inner.__class__.__name__ != "InputLayer"
        ):
            out.extend(_expand(layer))  # the feature map ends inside this nested model
        else:
            out.append(layer)
    return out


@dataclass
class Chain:
    """The classifier as ``head(features(x))``; ``x`` is already scaled for the network."""

    features: list[Any]
    head: list[Any]

    def run_features(self, x: Any) -> Any:
        """The last spatial feature map (N, h, w, C)."""
        for layer in self.features:
            x = layer(x, training=False)
        return x

    def run_head(self, x: Any, *, logits: bool = False) -> Any:
        """Class probabilities from a feature map (pre-softmax scores with ``logits``)."""
        head = [layer for layer in self.head if layer.__class__.__name__ not in TRAINING_ONLY]
        while logits and head and _is_identity(head[-1]):
            head = head[:-1]
        for i, layer in enumerate(head):
            last = i == len(head) - 1
            if logits and last:
                return _pre_softmax(layer, x)
            x = layer(x, training=False)
        return x

    def body_after(self, names: tuple[str, ...]) -> list[Any]:
        """Every layer after those whose class name is in ``names``, training-only ones and
        identities left out: what an export graph applies after its own normalisation."""
        layers = self.features + self.head
        start = 0
        for i, layer in enumerate(layers):
            if layer.__class__.__name__ in names:
                start = i + 1
        return [
            layer for layer in layers[start:]
            if layer.__class__.__name__ not in TRAINING_ONLY and not _is_identity(layer)
        ]


def _is_identity(layer: Any) -> bool:
    return layer.__class__.__name__ == "ModelCard"


def _pre_softmax(layer: Any, x: Any) -> Any:
    """The scores a softmax layer turns into probabilities (Grad-CAM differentiates these)."""
    from resnet_gui.core.model.build import keras_module

    ops = keras_module().ops
    kind = layer.__class__.__name__
    activation = getattr(getattr(layer, "activation", None), "__name__", "")
    if kind == "Dense" and activation == "softmax":
        y = ops.matmul(x, layer.kernel)
        return y + layer.bias if layer.use_bias else y
    if kind == "Softmax" or (kind == "Activation" and activation == "softmax"):
        return x
    # Unknown last layer: log-probabilities rank classes the same way.
    return ops.log(ops.maximum(layer(x, training=False), 1e-12))


def layer_chain(model: Any, image_size: int) -> Chain:
    """Split ``model`` into feature layers and head layers, checked against the model itself.

    Raises:
        ModelFileError: the model is not a chain of layers with a spatial feature map.
    """
    layers = _expand(model)
    last_map = max((i for i, layer in enumerate(layers) if _rank(layer) == 4), default=-1)
    if last_map < 0 or last_map == len(layers) - 1:
        raise ModelFileError("the model has no convolutional feature map followed by a head")
    chain = Chain(layers[: last_map + 1], layers[last_map + 1 :])
    probe = np.random.default_rng(1).uniform(0, 1, (1, image_size, image_size, 3)).astype("f4")
    try:
        want = np.asarray(model(probe, training=False))
        got = np.asarray(chain.run_head(chain.run_features(probe)))
    except Exception as exc:  # noqa: BLE001 - any failure means "not a chain"
        raise ModelFileError(f"the model's layers do not form a chain ({exc})") from exc
    if want.shape != got.shape or not np.allclose(want, got, atol=1e-4):
        raise ModelFileError("the model's layers do not form a chain (branches at the top level)")
    return chain
