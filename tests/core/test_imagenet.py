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


def test_a_download_never_leaves_a_cut_file_under_the_weights_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A download broken off (or its process killed: Stop while the weights download) leaves
    nothing under the weights' own name, which would pass for the weights ever after; what a
    killed download left is swept by the next one."""
    from resnet_gui.core.model.archs import get_arch
    from resnet_gui.core.model.build import keras_module
    from resnet_gui.core.model.weights import download_weights_file

    keras = keras_module()
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv(OFFLINE_ENV)
    name = str(get_arch("resnet50").weights_file)
    target = tmp_path / "models" / name
    killed = target.with_name(f".{target.stem}.999999999.tmp{target.suffix}")  # no such process
    killed.parent.mkdir(parents=True)
    killed.write_bytes(b"cut")
    at_target_midway: list[bool] = []

    def download(fname: str, origin: str, cache_subdir: str, cache_dir: str) -> str:
        dest = Path(cache_dir) / cache_subdir / fname
        dest.write_bytes(b"the first bytes")
        at_target_midway.append(target.exists())  # what a kill at this moment would leave
        if len(at_target_midway) == 1:
            raise Exception("connection reset by peer")  # noqa: TRY002 - as Keras raises
        dest.write_bytes(b"the whole file")
        return str(dest)

    monkeypatch.setattr(keras.utils, "get_file", download)
    with pytest.raises(WeightsUnavailableError, match="connection reset"):
        download_weights_file(name, "resnet50")
    assert not target.exists()
    assert download_weights_file(name, "resnet50") == target
    assert target.read_bytes() == b"the whole file" and at_target_midway == [False, False]
    assert [p.name for p in target.parent.iterdir()] == [name]  # the killed one's file swept
