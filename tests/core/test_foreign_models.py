"""Models made elsewhere: .h5 files, Teachable Machine exports, files without our model card."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from resnet_gui.cli import main
from resnet_gui.core.base.errors import ModelFileError
from resnet_gui.core.model.files import InputScaleNeeded, read_labels_file
from resnet_gui.core.use.inference import Classifier
from tests.conftest import photo


def _keras():
    from resnet_gui.core.model.build import keras_module

    return keras_module()


def teachable_like(folder: Path, size: int = 48) -> Path:
    """A model shaped like a Teachable Machine export: a Sequential of two Sequentials (a
    convolutional trunk with a depthwise convolution, then a dense head), saved as
    ``keras_model.h5`` by "tf.keras 2" (its DepthwiseConv2D config carries ``groups: 1``,
    which Keras 3 rejects), with ``labels.txt`` in their "0 cats" form beside it."""
    keras = _keras()
    layers = keras.layers
    trunk = keras.Sequential(
        [
            keras.Input((size, size, 3)),
            layers.Conv2D(8, 3, strides=2, padding="same", activation="relu"),
            layers.DepthwiseConv2D(3, padding="same", activation="relu"),
            layers.Conv2D(16, 3, strides=2, padding="same", activation="relu"),
            layers.GlobalAveragePooling2D(),
        ],
        name="sequential_1",
    )
    head = keras.Sequential(
        [keras.Input((16,)), layers.Dense(12, activation="relu"),
         layers.Dense(2, activation="softmax")],
        name="sequential_3",
    )
    model = keras.Sequential([keras.Input((size, size, 3)), trunk, head], name="sequential_7")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "keras_model.h5"
    model.save(path)
    with h5py.File(path, "r+") as f:
        config = f.attrs["model_config"]
        text = config.decode() if isinstance(config, bytes) else config
        text = text.replace('"depth_multiplier"', '"groups": 1, "depth_multiplier"')
        assert '"groups": 1' in text
        f.attrs["model_config"] = text
    (folder / "labels.txt").write_text("0 cats\n1 dogs\n")
    return path


def test_teachable_machine_export_opens_with_its_labels_and_scale(tmp_path: Path) -> None:
    path = teachable_like(tmp_path / "tm")
    clf = Classifier.load(path)
    assert clf.class_names == ["cats", "dogs"]
    assert clf.input_scale == "-1-1" and clf.image_size == 48
    assert any("Teachable Machine" in a for a in clf.info["assumed"])
    img = np.asarray(photo(48), np.uint8)
    want = np.asarray(clf.model(img[None].astype("float32") / 127.5 - 1.0, training=False))
    got = clf.predict_arrays(img[None])
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_explain_works_on_a_nested_sequential_model(tmp_path: Path) -> None:
    from resnet_gui.core.use.explain import explain

    clf = Classifier.load(teachable_like(tmp_path / "tm"))
    heat = explain(clf, np.asarray(photo(80), np.uint8), "dogs")
    assert heat.shape == (80, 80) and 0.0 <= heat.min() and heat.max() <= 1.0


def test_h5_without_labels_needs_an_input_scale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = teachable_like(tmp_path / "plain")
    (tmp_path / "plain" / "labels.txt").unlink()
    with pytest.raises(InputScaleNeeded, match="--input-scale"):
        Classifier.load(path)
    img = tmp_path / "a.png"
    photo(48).save(img)
    assert main(["predict", str(path), str(img)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--input-scale" in err
    assert main(["predict", str(path), str(img), "--input-scale", "0-1", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)[0]["predictions"][0]["label"] in ("class_0", "class_1")
    assert "class names unknown" in captured.err and "as given" in captured.err


def test_labels_file_forms(tmp_path: Path) -> None:
    f = tmp_path / "labels.txt"
    f.write_text("cat\ndog\n\n")
    assert read_labels_file(f, 2) == (["cat", "dog"], False)
    f.write_text("0 big cats\n1 dogs\n")
    assert read_labels_file(f, 2) == (["big cats", "dogs"], True)
    with pytest.raises(ModelFileError, match="lists 2 classes but the model has 3"):
        read_labels_file(f, 3)
    assert read_labels_file(tmp_path / "none.txt", 2) is None


@pytest.mark.parametrize("kind", ["lambda", "logits", "not_an_image"])
def test_refused_models(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keras = _keras()
    layers = keras.layers
    if kind == "lambda":
        inputs = keras.Input((16, 16, 3))
        x = layers.Lambda(lambda t: t * 2)(inputs)
        x = layers.GlobalAveragePooling2D()(x)
        outputs = layers.Dense(2, activation="softmax")(x)
        needle = "cannot load model"
    elif kind == "logits":
        inputs = keras.Input((16, 16, 3))
        x = layers.Conv2D(4, 3)(inputs)
        x = layers.GlobalAveragePooling2D()(x)
        outputs = layers.Dense(3)(x)  # no softmax
        needle = "not probabilities"
    else:
        inputs = keras.Input((10,))
        outputs = layers.Dense(2, activation="softmax")(inputs)
        needle = "not an image classifier"
    path = tmp_path / f"{kind}.h5"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(ModelFileError, match=needle):
        Classifier.load(path, "0-1")
    assert main(["predict", str(path), str(tmp_path), "--input-scale", "0-1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err


def test_keras_file_without_card_uses_labels_txt(tmp_path: Path) -> None:
    keras = _keras()
    layers = keras.layers
    inputs = keras.Input((32, 32, 3))
    x = layers.Rescaling(1 / 255.0)(inputs)  # normalises itself: no scale needs giving
    x = layers.Conv2D(4, 3)(x)
    x = layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, layers.Dense(3, activation="softmax")(x))
    model.save(tmp_path / "m.keras")
    (tmp_path / "labels.txt").write_text("red\ngreen\nblue\n")
    clf = Classifier.load(tmp_path / "m.keras")
    assert clf.class_names == ["red", "green", "blue"] and clf.input_scale == "0-255"
    assert clf.info["format"] == "keras"
