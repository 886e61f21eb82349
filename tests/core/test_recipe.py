"""The recipe's automatic choices: no flips for classes that change when mirrored, no brightness
jitter for classes told apart by their light, class weights for classes of unequal size."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from resnet_gui.core.base.assets import demo_data_dir
from resnet_gui.core.base.config import ALIGNED_AUGMENT, DEFAULT_AUGMENT, TrainConfig
from resnet_gui.core.base.errors import TrainingError
from resnet_gui.core.data.cues import class_share, mirror_asymmetry
from resnet_gui.core.data.dataset import BALANCE_RATIO, IMBALANCE_RATIO, scan_dataset
from resnet_gui.core.train.recipe import (
    LIGHT_CUE_LIMIT,
    MIRROR_ASYMMETRY_LIMIT,
    auto_augment,
    choose_balance,
    class_weights,
    make_plan,
)
from tests.conftest import cli_without_tensorflow

DEMO = demo_data_dir()


def test_digits_are_handed_and_photos_are_not(digits_train: Path, tiny_data: Path) -> None:
    digits = scan_dataset(digits_train).mirror_asymmetry
    photos = scan_dataset(tiny_data).mirror_asymmetry
    assert digits is not None and digits > MIRROR_ASYMMETRY_LIMIT + 0.2
    assert photos is not None and photos < MIRROR_ASYMMETRY_LIMIT - 0.2


def test_noise_of_small_classes_is_not_asymmetry() -> None:
    """Unaligned random images: the class means differ only by noise; the ratio stays low."""
    rng = np.random.default_rng(0)
    thumbs = rng.integers(0, 256, (40, 16, 16)).astype(np.int16)
    labels = np.repeat([0, 1], 20)
    value = mirror_asymmetry(thumbs, labels)
    assert value is None or value < MIRROR_ASYMMETRY_LIMIT


def test_handed_classes_score_high() -> None:
    """'Left' and 'right' shapes: mirrored, each is the other class."""
    rng = np.random.default_rng(1)
    left = np.zeros((16, 16), np.int16)
    left[:, :5] = 255
    thumbs = np.stack([left + rng.integers(0, 30, (16, 16)) for _ in range(10)]
                      + [left[:, ::-1] + rng.integers(0, 30, (16, 16)) for _ in range(10)])
    assert mirror_asymmetry(thumbs.astype(np.int16), np.repeat([0, 1], 10)) > 0.9


def test_auto_augment_leaves_flip_out_for_the_demo_digits(tiny_data: Path) -> None:
    demo = scan_dataset(DEMO)
    chosen, note = auto_augment(demo)
    assert "flip" not in chosen and note and "mirrored" in note
    assert chosen == ALIGNED_AUGMENT and "crop" not in chosen  # centred content: mild framing
    plan = make_plan(TrainConfig(str(DEMO), weights="none"), demo, 240, lambda d: None)
    assert "flip" not in plan.augment and note in plan.notes
    # The tiny china/flower set keeps flip; its flower crops are darker than its china ones
    # (a light cue of 0.80), so it has no brightness jitter either.
    photos, note = auto_augment(scan_dataset(tiny_data))
    assert photos == ("flip", "rotate", "shift", "zoom", "contrast")
    assert note is not None and note.startswith("no brightness jitter") and "mirrored" not in note
    # An explicit choice is the user's.
    plan = make_plan(TrainConfig(str(DEMO), weights="none", augment="flip"), demo, 240,
                     lambda d: None)
    assert plan.augment == ("flip",)


def test_plan_carries_the_loss_and_optimiser_settings(tiny_data: Path) -> None:
    report = scan_dataset(tiny_data)
    plan = make_plan(TrainConfig(str(tiny_data), weights="none", weight_decay=1e-3,
                                 label_smoothing=0.05), report, 10, lambda d: None)
    assert (plan.weight_decay, plan.label_smoothing) == (1e-3, 0.05)
    assert type(plan).from_dict(plan.to_dict()) == plan


@pytest.mark.parametrize(("flag", "value", "needle"), [
    ("--patience", "-1", "patience must be 0 (off) or more"),
    ("--learning-rate", "-0.1", "learning rate must be positive"),
    ("--image-size", "8", "image size must be between 16 and 1024"),
    ("--augment", "flip,wobble", "wobble"),
    ("--arch", "resnet9", "unknown architecture"),
])
def test_bad_settings_fail_before_the_scan_and_before_tensorflow(
    tmp_path: Path, flag: str, value: str, needle: str
) -> None:
    """A folder of 2,000 images would take seconds to scan: the settings are refused first, in
    a process that never imports TensorFlow."""
    done = _train_without_tensorflow(tmp_path / "not-scanned", tmp_path, flag, value)
    assert done.returncode == 2, done.stderr
    assert needle in done.stderr and "does not exist" not in done.stderr


def _train_without_tensorflow(data: Path, tmp_path: Path,
                              *flags: str) -> subprocess.CompletedProcess[str]:
    """``resnet-gui train data`` in a process that fails if TensorFlow gets imported."""
    return cli_without_tensorflow("train", str(data), "--out", str(tmp_path / "m.keras"), *flags)


def test_a_data_folder_that_is_not_there_fails_before_tensorflow(tmp_path: Path) -> None:
    """No waiting for TensorFlow (seconds) to hear that the folder's name was mistyped."""
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "data" / "a").mkdir(parents=True)
    for data, flags, needle in [
        (tmp_path / "missing", [], "dataset folder does not exist"),
        (tmp_path / "a-file", [], "not a folder"),
        (tmp_path / "data", ["--val-dir", str(tmp_path / "no-val")],
         f"does not exist: {tmp_path / 'no-val'}"),
    ]:
        done = _train_without_tensorflow(data, tmp_path, *flags)
        assert done.returncode == 2 and needle in done.stderr, done.stderr
        assert done.stderr.count("\n") == 1


def _exposed_crops(root: Path, exposure: dict[str, tuple[float, float]], n: int = 14) -> Path:
    """Two classes of real photo crops (32 px), each crop's brightness scaled by a factor drawn
    from its class's range in ``exposure``."""
    from PIL import Image
    from sklearn.datasets import load_sample_image

    rng = np.random.default_rng(3)
    for name, (low, high) in exposure.items():
        img = load_sample_image(f"{name}.jpg").astype(np.float32)
        (root / name).mkdir(parents=True)
        for i in range(n):
            side = int(rng.integers(120, 300))
            y = int(rng.integers(0, img.shape[0] - side))
            x = int(rng.integers(0, img.shape[1] - side))
            crop = np.clip(img[y:y + side, x:x + side] * rng.uniform(low, high), 0, 255)
            Image.fromarray(crop.astype(np.uint8)).resize((32, 32)).save(root / name / f"{i}.jpg")
    return root


def test_brightness_jitter_is_left_out_when_light_tells_the_classes_apart(tmp_path: Path) -> None:
    """The rule docs/recipe.md measured: a set whose classes differ in light (one class of dark
    things, each class keeping its own light) gets no brightness jitter, and the log says why;
    a set whose photos vary in light within every class keeps it."""
    dark = scan_dataset(_exposed_crops(tmp_path / "dark", {"china": (0.9, 1.1),
                                                           "flower": (0.25, 0.3)}))
    varied = scan_dataset(_exposed_crops(tmp_path / "varied", {"china": (0.4, 1.6),
                                                               "flower": (0.4, 1.6)}))
    assert dark.light_cue is not None and dark.light_cue >= LIGHT_CUE_LIMIT + 0.2
    assert varied.light_cue is not None and varied.light_cue <= LIGHT_CUE_LIMIT - 0.2
    chosen, note = auto_augment(dark)
    assert chosen == tuple(a for a in DEFAULT_AUGMENT if a != "brightness")
    assert note and "no brightness jitter" in note and "differ in light" in note
    assert auto_augment(varied) == (DEFAULT_AUGMENT, None)
    plan = make_plan(TrainConfig(str(tmp_path / "dark"), weights="none"), dark, 22,
                     lambda d: None)
    assert "brightness" not in plan.augment and note in plan.notes
    # Asked for by name, it is the user's choice, with a warning.
    plan = make_plan(TrainConfig(str(tmp_path / "dark"), weights="none",
                                 augment="flip,brightness"), dark, 22, lambda d: None)
    assert plan.augment == ("flip", "brightness")
    assert any("differ in light" in n and n.startswith("warning") for n in plan.notes)
    # The china crops are reddish, the flower ones not: colour is a cue too, and an explicit
    # colour jitter is warned about by name.
    assert dark.colour_cue is not None and dark.colour_cue >= 0.5
    plan = make_plan(TrainConfig(str(tmp_path / "dark"), weights="none", augment="color"),
                     dark, 22, lambda d: None)
    assert any("differ in colour" in n for n in plan.notes)
    assert any("the color jitter may blur" in n for n in plan.notes)
    assert dark.to_dict()["light_cue"] == round(dark.light_cue, 3)


def test_class_share_is_near_zero_for_chance_and_near_one_for_a_cue() -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 8)
    # Classes drawn alike differ only by chance: small shares, never near the recipe's limit.
    chance = [class_share(rng.normal(100, 20, len(labels)), labels) for _ in range(300)]
    assert np.percentile(chance, 95) < 0.2 and max(chance) < LIGHT_CUE_LIMIT
    own = np.array([30.0, 100.0, 170.0])[labels] + rng.normal(0, 5, len(labels))
    assert class_share(own, labels) > 0.9
    assert class_share(own, np.zeros(len(labels), int)) is None  # one class: nothing to share
    assert class_share(np.ones(len(labels)), labels) is None  # no spread at all


def test_class_weights_make_every_class_weigh_the_same() -> None:
    labels = np.array([0] * 60 + [1] * 20 + [2] * 6)
    w = class_weights(labels, 4)  # class 3 has no images
    assert w[3] == 1.0
    totals = [w[c] * (labels == c).sum() for c in range(3)]
    assert np.allclose(totals, totals[0])
    assert np.isclose(np.mean(np.array(w)[labels]), 1.0)  # the loss keeps its scale


def test_auto_class_balance_does_not_weigh_and_says_so(tiny_data: Path) -> None:
    """The measured choice (docs/recipe.md): classes of unequal size are not weighted by
    default, and the log says so and how to; weights are there when asked for."""
    config = TrainConfig(str(tiny_data), weights="none")
    assert choose_balance(config, {"a": 40, "b": 30}) == ("none", None)
    chosen, note = choose_balance(config, {"a": 60, "b": 12, "c": 0})
    assert chosen == "none" and note and "'a' has 60 images, 'b' 12" in note
    assert "--class-balance weights" in note
    assert choose_balance(config, {"a": 39, "b": 20}) == ("none", None)  # below 2:1
    assert choose_balance(config, {"a": 40, "b": 20})[1] is not None
    # Every class the scan warns about as far smaller gets the note.
    assert IMBALANCE_RATIO * BALANCE_RATIO <= 1
    config.class_balance = "weights"
    assert choose_balance(config, {"a": 60, "b": 12}) == ("weights", None)
    config.class_balance = "none"
    assert choose_balance(config, {"a": 60, "b": 12}) == ("none", None)
    config.class_balance = "sometimes"
    with pytest.raises(TrainingError, match="sometimes"):
        choose_balance(config, {"a": 60, "b": 12})
    report = scan_dataset(tiny_data)
    plan = make_plan(TrainConfig(str(tiny_data), weights="none"), report, 10, lambda d: None)
    assert plan.class_balance == "none"  # six and six
