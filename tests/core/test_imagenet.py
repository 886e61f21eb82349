"""The stock ImageNet ResNet-50: class names ship with the app; offline it says what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from resnet_gui.core.base.errors import WeightsUnavailableError
from resnet_gui.core.model.weights import OFFLINE_ENV
from resnet_gui.core.use.imagenet import imagenet_class_names, imagenet_classifier


def test_class_names_ship_in_order() -> None:
    names = imagenet_class_names()
    assert len(names) == 1000 and len(set(names)) == 1000
    assert names[0] == "tench" and names[281] == "tabby" and names[207] == "golden retriever"


def test_offline_names_the_weights_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from resnet_gui.core.model.build import keras_module

    keras = keras_module()
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv(OFFLINE_ENV)  # this test is the first attempt of a session

    tries: list[object] = []

    def offline(*args: object, **kwargs: object) -> str:
        tries.append(args)
        raise Exception("URL fetch failure on https://example.invalid: [Errno -2]")  # noqa: TRY002

    monkeypatch.setattr(keras.utils, "get_file", offline)
    for _ in range(2):  # the network is tried once a session; the second answer comes at once
        with pytest.raises(WeightsUnavailableError) as info:
            imagenet_classifier()
        message = str(info.value)
        assert "resnet50_weights_tf_dim_ordering_tf_kernels.h5" in message
        assert str(tmp_path / "models") in message
        assert "offline" in message and "https://" not in message and "Errno" not in message
    assert len(tries) == 1
