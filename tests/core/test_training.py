"""Training: the default recipe learns real data; stop, seeds, transfer paths and offline weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from resnet_gui.core.base.config import TrainConfig
from resnet_gui.core.base.errors import TrainingError, WeightsUnavailableError
from resnet_gui.core.model.weights import OFFLINE_ENV
from resnet_gui.core.train.training import train
from resnet_gui.core.use.evaluation import evaluate
from resnet_gui.core.use.inference import Classifier


@pytest.mark.slow
def test_default_recipe_learns_real_digits(trained_model: Path, digits_heldout: Path) -> None:
    """`resnet-gui train DIR --out M` with no flags, from scratch: far above chance (0.1)."""
    clf = Classifier.load(trained_model)
    report = evaluate(clf, digits_heldout)
    assert report.accuracy > 0.85, report.accuracy
    assert sum(sum(r) for r in report.confusion_matrix) == 600


@pytest.mark.slow
def test_model_file_describes_itself(trained_model: Path) -> None:
    clf = Classifier.load(trained_model)
    assert clf.class_names == [str(i) for i in range(10)]
    assert clf.image_size == 32
    info = clf.info
    assert info["architecture"] == "resnet18" and info["weights"] == "none"
    assert 0.5 < info["val_accuracy"] <= 1.0
    assert info["trained_at"].startswith("20") and info["num_train"] == 320
    # Calibrated on the validation split at the end of training (docs/evaluation.md).
    # T = 1 only when the split has no errors to learn a sharpening from (MIN_ERRORS_TO_SHARPEN)
    assert info["temperature"] > 0
    assert info["temperature"] != 1.0 or info["val_accuracy"] == 1.0
    assert info["ece"] <= info["ece_uncalibrated"] + 1e-9
    assert clf.temperature == info["temperature"]


def _tiny(**kw: object) -> TrainConfig:
    base = {"epochs": 1, "batch_size": 4, "width": 8, "augment": "none", "weights": "none"}
    base.update(kw)
    return base  # type: ignore[return-value]


@pytest.mark.slow
def test_stop_ends_within_a_batch(tiny_data: Path) -> None:
    seen: list[dict] = []

    def on_batch(stats: dict) -> None:
        seen.append(stats)

    res = train(
        TrainConfig(str(tiny_data), **_tiny(epochs=5)),
        on_batch=on_batch,
        should_stop=lambda: len(seen) >= 2,
    )
    assert res.stopped
    assert len(seen) == 2
    assert seen[0]["batches"] == 3 and seen[0]["epochs"] == 5 and seen[0]["eta"] > 0


@pytest.mark.slow
def test_seeded_runs_repeat(tiny_data: Path) -> None:
    a = train(TrainConfig(str(tiny_data), **_tiny(epochs=2, augment="flip,shift")))
    b = train(TrainConfig(str(tiny_data), **_tiny(epochs=2, augment="flip,shift")))
    assert [h["loss"] for h in a.history] == pytest.approx([h["loss"] for h in b.history], rel=1e-5)
    wa, wb = a.model.get_weights(), b.model.get_weights()
    assert all(np.allclose(x, y, atol=1e-5) for x, y in zip(wa, wb, strict=True))


@pytest.mark.slow
def test_fine_tune_top_blocks_from_weights_file(tiny_data: Path, tmp_path: Path) -> None:
    from resnet_gui.core.model.build import build_backbone

    weights = tmp_path / "resnet50_notop.weights.h5"
    build_backbone("resnet50").save_weights(weights)
    logs: list[str] = []
    res = train(
        TrainConfig(
            str(tiny_data), arch="resnet50", weights=str(weights), image_size=32, epochs=2,
            batch_size=4, fine_tune_blocks=1, augment="none",
        ),
        on_log=lambda d: logs.append(d.get("message", "")),
    )
    assert res.plan.freeze_base and res.plan.head_epochs == 1 and len(res.history) == 2
    assert any("fine-tuning the top 1 blocks" in m for m in logs)
    backbone = res.model.get_layer("resnet50")
    trainable = {layer.name for layer in backbone.layers if layer.trainable and layer.weights}
    assert "conv5_block3_3_conv" in trainable and "conv5_block2_3_conv" not in trainable
    assert not any(name.endswith("_bn") for name in trainable)


@pytest.mark.slow
def test_imagenet_offline_names_the_file(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from resnet_gui.core.model.build import keras_module

    keras = keras_module()
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv(OFFLINE_ENV)  # this test is the first attempt of a session

    tries: list[object] = []

    def offline(*args: object, **kwargs: object) -> str:
        tries.append(args)
        raise Exception(  # noqa: TRY002 - what Keras raises when offline
            "URL fetch failure on https://example.invalid/x.h5: None -- [Errno -2] "
            "Name or service not known"
        )

    monkeypatch.setattr(keras.utils, "get_file", offline)
    with pytest.raises(WeightsUnavailableError) as info:
        train(TrainConfig(str(tiny_data), arch="resnet50", weights="imagenet", epochs=1))
    message = str(info.value)
    assert "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert str(tmp_path / "models") in message and "\n" not in message
    assert "offline" in message and "https://" not in message and "Errno" not in message

    # auto: falls back to training from scratch, says so once in plain words, and does not
    # try the network again in this session.
    logs: list[str] = []
    res = train(
        TrainConfig(str(tiny_data), **_tiny(arch="auto", weights="auto")),
        on_log=lambda d: logs.append(d.get("message", "")),
    )
    assert res.plan.arch == "resnet18" and res.plan.weights is None
    assert len(tries) == 1
    said = [m for m in logs if "ImageNet" in m]
    assert len(said) == 1 and "from scratch" in said[0] and "https://" not in said[0]
    assert "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5" in said[0]


def test_impossible_settings_are_clear(tiny_data: Path) -> None:
    with pytest.raises(TrainingError, match="no ImageNet weights for ResNet-18"):
        train(TrainConfig(str(tiny_data), arch="resnet18", weights="imagenet"))
    with pytest.raises(TrainingError, match="needs pretrained weights"):
        train(TrainConfig(str(tiny_data), weights="none", fine_tune_blocks=2))
    with pytest.raises(TrainingError, match="unknown architecture"):
        train(TrainConfig(str(tiny_data), arch="resnet7"))
    with pytest.raises(TrainingError, match="unknown augmentation"):
        train(TrainConfig(str(tiny_data), **_tiny(augment="flip,wobble")))


@pytest.mark.slow
def test_without_a_validation_split_the_model_is_not_calibrated(tiny_data: Path) -> None:
    logs: list[str] = []
    res = train(TrainConfig(str(tiny_data), **_tiny(val_split=0.0)),
                on_log=lambda d: logs.append(d.get("message", "")))
    assert res.temperature == 1.0 and res.num_val == 0
    assert any("no validation split" in m and "temperature 1" in m for m in logs)
    assert Classifier.from_model(res.model).temperature == 1.0
