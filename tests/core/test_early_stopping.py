"""Time to a good model: a run that has learned what it can winds down and stops early, keeps
its best weights, and still scores well on held-out photos; the few-shot augmentations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from resnet_gui.core.base.config import TrainConfig


def _crops(root: Path, per_class: int, seed: int, size: int = 32) -> Path:
    """Random crops of two real photos (a different ``seed``: different crops)."""
    from sklearn.datasets import load_sample_image

    rng = np.random.default_rng(seed)
    for name in ("china", "flower"):
        img = load_sample_image(f"{name}.jpg")
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            s = int(rng.integers(100, 300))
            y, x = int(rng.integers(0, img.shape[0] - s)), int(rng.integers(0, img.shape[1] - s))
            Image.fromarray(img[y:y + s, x:x + s]).resize((size, size)).save(
                root / name / f"{i}.jpg", quality=92)
    return root


@pytest.mark.slow
def test_an_easy_set_stops_early_and_keeps_a_good_model(tmp_path: Path) -> None:
    from resnet_gui.core.train.training import train
    from resnet_gui.core.use.evaluation import evaluate
    from resnet_gui.core.use.inference import Classifier

    data = _crops(tmp_path / "train", 40, seed=1)
    held_out = _crops(tmp_path / "held_out", 30, seed=2)
    lines: list[str] = []
    # Batches of 8: 8 steps an epoch, so a plateau may count from epoch 8 (schedule.MIN_STEPS
    # is 60 steps; with the default 32, 2 steps an epoch, it was epoch 30). Width 8: the same
    # mechanics at a quarter of the cost. 48 s alone instead of 69 s at batch 32.
    result = train(TrainConfig(str(data), width=8, batch_size=8),
                   on_log=lambda e: lines.append(e.get("message", "")))
    plan = result.plan
    assert plan.patience > 0 and plan.epochs == 60
    ran = len(result.history)
    assert ran < plan.epochs, "an easy set should not use every epoch"
    assert any(line.startswith(f"stopped early at epoch {ran} of up to 60: validation loss has "
                               "not improved for") for line in lines), lines
    # the last epochs ran on a falling learning rate, down to 1 % of the peak
    rates = [h["learning_rate"] for h in result.history]
    assert rates[-1] < 0.05 * plan.learning_rate < rates[ran // 2]
    assert result.history[-1]["epochs"] == ran  # the progress total followed the early end
    # an unsaved run that stopped early is finished, not interrupted (the app offers no Resume)
    state = result.checkpoint.state()
    assert state["epochs_done"] == state["epochs"] == ran
    result.save(tmp_path / "m.keras")
    accuracy = evaluate(Classifier.load(tmp_path / "m.keras"), held_out).accuracy
    assert accuracy >= 0.9, accuracy


def test_explicit_epochs_run_them_all_and_patience_can_be_asked_for(tmp_path: Path) -> None:
    from resnet_gui.core.data.dataset import scan_dataset
    from resnet_gui.core.train.recipe import make_plan

    report = scan_dataset(_crops(tmp_path / "d", 10, seed=3))
    plan = lambda n=200, **kw: make_plan(  # noqa: E731
        TrainConfig(str(tmp_path / "d"), weights="none", **kw), report, n, lambda _: None)
    assert plan().patience == 6
    # few images per class: the validation split cannot judge a plateau, so every epoch runs
    few = plan(40)
    assert few.patience == 0 and any("no early stopping: with about 20 training images per "
                                     "class" in note for note in few.notes)
    assert plan(42).patience == 6
    assert plan(epochs=12).patience == 0
    assert plan(epochs=12, patience=3).patience == 3
    assert plan(patience=0).patience == 0
    assert plan(val_split=0.0).patience == 0


def test_random_resized_crop_zooms_into_each_image_differently() -> None:
    from resnet_gui.core.data.pipeline import random_resized_crop

    x = np.zeros((64, 32, 32, 3), np.float32)
    x[:, :, 16:] = 255.0  # left half black, right half white
    layer = random_resized_crop(min_area=0.25, seed=1)
    out = np.asarray(layer(x, training=True))
    assert out.shape == x.shape and out.min() >= 0.0 and out.max() <= 255.0
    means = out.mean(axis=(1, 2, 3))
    assert means.std() > 20  # other boxes, other shares of black and white
    assert (means < 100).any() and (means > 155).any()
    assert np.array_equal(np.asarray(layer(x, training=False)), x)


def test_brightness_changes_the_light_and_keeps_the_colours() -> None:
    """"brightness" shifts every channel alike (other light, same hues); "color" also changes
    the saturation, which removes colour cues (docs/recipe.md, "Choosing the augmentation")."""
    from resnet_gui.core.data.pipeline import build_augmenter

    x = np.zeros((64, 8, 8, 3), np.float32) + np.array([150.0, 100.0, 60.0], np.float32)
    light = np.asarray(build_augmenter(("brightness",), seed=1)(x, training=True))
    assert light.mean(axis=(1, 2, 3)).std() > 10  # each image lit differently
    np.testing.assert_allclose(light[..., 0] - light[..., 1], 50.0, atol=1e-3)  # same hue
    np.testing.assert_allclose(light[..., 1] - light[..., 2], 40.0, atol=1e-3)
    color = np.asarray(build_augmenter(("color",), seed=1)(x, training=True))
    assert (color[..., 0] - color[..., 1]).std() > 5  # saturation changed: hues apart
