"""The stock ImageNet ResNet-50 (1000 classes), wrapped like a trained model of our own."""

from __future__ import annotations

import json
from typing import Any

from resnet_gui.core.base.assets import imagenet_classes_file
from resnet_gui.core.model.build import custom_layer, keras_module
from resnet_gui.core.model.weights import download_weights_file, keras_home

TOP_WEIGHTS = "resnet50_weights_tf_dim_ordering_tf_kernels.h5"


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet class names: from the shipped list, else
    from Keras' cached ``imagenet_class_index.json``, else ``class_0 .. class_999``."""
    shipped = imagenet_classes_file()
    if shipped.is_file():
        lines = shipped.read_text(encoding="utf-8").splitlines()
        names = [n.strip() for n in lines if n.strip() and not n.startswith("#")]
        if len(names) == 1000:
            return names
    cached = keras_home() / "models" / "imagenet_class_index.json"
    if cached.is_file():
        index = json.loads(cached.read_text(encoding="utf-8"))
        return [index[str(i)][1] for i in range(1000)]
    return [f"class_{i}" for i in range(1000)]


def imagenet_classifier() -> Any:
    """A :class:`~resnet_gui.core.use.inference.Classifier` over Keras' ImageNet ResNet-50.

    Raises:
        WeightsUnavailableError: the weights are neither cached nor downloadable.
    """
    from resnet_gui.core.use.inference import Classifier

    keras = keras_module()
    target = download_weights_file(TOP_WEIGHTS, "resnet50")
    base = keras.applications.ResNet50(weights=str(target))
    inputs = keras.Input((None, None, 3), name="image")
    x = custom_layer("Preprocess")(224, "caffe", name="preprocess")(inputs)
    x = base(x)
    names = imagenet_class_names()
    info = {"architecture": "resnet50 (ImageNet)", "image_size": 224}
    outputs = custom_layer("ModelCard")(names, info, name="model_card")(x)
    model = keras.Model(inputs, outputs, name="imagenet_resnet50")
    return Classifier.from_model(model, source="Keras ImageNet ResNet-50")
