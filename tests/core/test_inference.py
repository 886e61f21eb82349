"""Loading models safely and classifying files, folders and broken inputs."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from resnet_gui.core.base.errors import ModelFileError
from resnet_gui.core.model.files import save_model
from resnet_gui.core.use.inference import Classifier
from tests.core.badfiles import exif_rotated_pair, write_bad_and_odd


def test_not_a_model_is_a_model_file_error(tmp_path: Path) -> None:
    text = tmp_path / "notes.keras"
    text.write_text("hello")
    with pytest.raises(ModelFileError, match="not a Keras model file"):
        Classifier.load(text)
    bad_zip = tmp_path / "broken.keras"
    with zipfile.ZipFile(bad_zip, "w") as z:
        z.writestr("config.json", "{not json")
    with pytest.raises(ModelFileError, match="cannot load model"):
        Classifier.load(bad_zip)
    with pytest.raises(ModelFileError, match="not found"):
        Classifier.load(tmp_path / "missing.keras")


def test_safe_mode_refuses_code_in_a_model(tmp_path: Path) -> None:
    from resnet_gui.core.model.build import keras_module

    keras = keras_module()
    inputs = keras.Input((8, 8, 3))
    outputs = keras.layers.Lambda(lambda x: x * 2)(inputs)
    model = keras.Model(inputs, outputs)
    path = tmp_path / "lambda.keras"
    model.save(path)
    with pytest.raises(ModelFileError, match="cannot load model"):
        Classifier.load(path)


def test_predict_files_folders_and_broken_inputs(tiny_model: Path, tmp_path: Path) -> None:
    files = write_bad_and_odd(tmp_path / "mixed")
    clf = Classifier.load(tiny_model)
    results = clf.predict([tmp_path / "mixed", tmp_path / "missing.jpg"], top_k=5, batch_size=4)
    by_name = {Path(r.path).name: r for r in results}
    assert "._photo.jpg" not in by_name  # hidden files are not inputs
    assert by_name["truncated.jpg"].error.startswith("truncated")
    assert by_name["empty.jpg"].error.startswith("empty file")
    assert by_name["missing.jpg"].error.startswith("unreadable")
    good = by_name[files["cmyk"].name]
    assert good.error is None and len(good.labels) == 2  # top-k capped at the class count
    assert sum(good.probabilities) == pytest.approx(1.0, abs=1e-4)
    assert good.probabilities == sorted(good.probabilities, reverse=True)


def test_exif_rotated_photo_gets_the_upright_prediction(tiny_model: Path, tmp_path: Path) -> None:
    upright, rotated = exif_rotated_pair(tmp_path, size=80)
    clf = Classifier.load(tiny_model)
    a, b = clf.predict([upright, rotated], top_k=2)
    assert a.labels == b.labels
    assert a.probabilities == pytest.approx(b.probabilities, abs=1e-5)


def test_arrays_and_files_agree(tiny_model: Path, tiny_data: Path) -> None:
    from resnet_gui.core.data.images import load_image

    clf = Classifier.load(tiny_model)
    path = sorted((tiny_data / "china").iterdir())[0]
    probs = clf.predict_arrays([load_image(path)])[0]
    pred = clf.predict([path], top_k=2)[0]
    assert probs.max() == pytest.approx(pred.probabilities[0], abs=1e-5)


def test_atomic_save_keeps_old_file_on_failure(tiny_model: Path, tmp_path: Path) -> None:
    clf = Classifier.load(tiny_model)
    target = tmp_path / "m.keras"
    save_model(clf.model, target)
    before = target.read_bytes()

    class Boom:
        def save(self, path: str) -> None:
            Path(path).write_bytes(b"partial")
            raise OSError(28, "No space left on device")

    with pytest.raises(ModelFileError, match="No space left"):
        save_model(Boom(), target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]
    reloaded = Classifier.load(target)
    assert np.allclose(
        reloaded.model.get_weights()[0], clf.model.get_weights()[0]
    )
