"""The recipe's automatic choices: no flips for classes that change when mirrored."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from resnet_gui.core.base.assets import demo_data_dir
from resnet_gui.core.base.config import ALIGNED_AUGMENT, DEFAULT_AUGMENT, TrainConfig
from resnet_gui.core.data.dataset import mirror_asymmetry, scan_dataset
from resnet_gui.core.train.recipe import MIRROR_ASYMMETRY_LIMIT, auto_augment, make_plan
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
    photos, note = auto_augment(scan_dataset(tiny_data))
    assert photos == DEFAULT_AUGMENT and note is None
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
