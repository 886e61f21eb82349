"""Continue from a saved model: same classes train on, new classes get a new head."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from resnet_gui.cli import main
from resnet_gui.core.base.config import TrainConfig
from resnet_gui.core.train.continuation import CONTINUE_LR_FACTOR
from resnet_gui.core.train.training import train


@pytest.mark.slow
def test_same_classes_train_on_from_where_the_model_was(
    digits_model: Path, digits_train: Path
) -> None:
    from resnet_gui.core.use.inference import Classifier

    info = Classifier.load(digits_model).info
    lines: list[str] = []
    res = train(TrainConfig(str(digits_train), epochs=1, init=str(digits_model)),
                on_log=lambda d: lines.append(d.get("message", "")))
    assert any("same classes, the whole model trains on" in ln for ln in lines)
    # The first epoch starts from the trained weights: a fresh model is near chance (0.1)
    # after one epoch, this one is as good as the model was.
    assert res.history[0]["val_accuracy"] >= float(info["val_accuracy"]) - 0.1
    assert 0 < CONTINUE_LR_FACTOR < 1  # gentler than a fresh run (measured: docs/review.md)
    assert res.plan.learning_rate == pytest.approx(
        info["plan"]["learning_rate"] * CONTINUE_LR_FACTOR, rel=0.01)


@pytest.mark.slow
def test_other_classes_keep_the_backbone_and_get_a_new_head(
    digits_model: Path, digits_train: Path, digits_heldout: Path, tmp_path: Path
) -> None:
    from resnet_gui.core.use.evaluation import evaluate
    from resnet_gui.core.use.inference import Classifier

    # Regrouped classes: "small" (0-4) against "large" (5-9), learned on the digits' backbone.
    for c in range(10):
        for split, source in (("train", digits_train), ("held", digits_heldout)):
            shutil.copytree(source / str(c), tmp_path / split / ("small" if c < 5 else "large"),
                            dirs_exist_ok=True)
    lines: list[str] = []
    res = train(TrainConfig(str(tmp_path / "train"), epochs=2, init=str(digits_model)),
                on_log=lambda d: lines.append(d.get("message", "")))
    assert any("other classes, the backbone is kept and a new head" in ln for ln in lines)
    assert res.class_names == ["large", "small"]
    acc = evaluate(Classifier.from_model(res.model), tmp_path / "held").accuracy
    assert acc > 0.8  # a new two-class head on features that already know the digits


def test_settings_that_do_not_fit_the_model_are_explained(
    tiny_model: Path, tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "m.keras")
    cases = [
        (["--image-size", "64"], "was trained at 32 px; a continued run keeps that size"),
        (["--arch", "resnet34"], "a continued run keeps its architecture"),
        (["--weights", "imagenet"], "--init gives the starting weights"),
    ]
    for flags, needle in cases:
        assert main(["train", str(tiny_data), "--out", out, "--init", str(tiny_model),
                     *flags]) == 2
        err = capsys.readouterr().err
        assert needle in err and err.count("\n") == 1, err
