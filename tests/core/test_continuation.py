"""Continue from a saved model: same classes train on, new classes get a new head."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from resnet_gui.cli import main
from resnet_gui.core.config import TrainConfig
from resnet_gui.core.training import train

FAST = {"arch": "resnet18", "weights": "none", "width": 16, "batch_size": 32, "augment": "none"}


@pytest.fixture(scope="module")
def five_digit_model(digits_train: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """A model of the digits 0-4, and its data."""
    root = tmp_path_factory.mktemp("five")
    for c in "01234":
        shutil.copytree(digits_train / c, root / "data" / c)
    res = train(TrainConfig(str(root / "data"), epochs=10, **FAST))
    return res.save(root / "five.keras"), root / "data", res


@pytest.mark.slow
def test_same_classes_train_on_from_where_the_model_was(five_digit_model) -> None:  # noqa: ANN001
    model, data, first = five_digit_model
    lines: list[str] = []
    res = train(TrainConfig(str(data), epochs=2, init=str(model)),
                on_log=lambda d: lines.append(d.get("message", "")))
    assert any("same classes, the whole model trains on" in ln for ln in lines)
    # The first epoch starts from the trained weights: no fresh model is this good after one
    # epoch at a tenth of the learning rate.
    assert res.history[0]["val_accuracy"] >= first.val_accuracy - 0.1
    assert res.plan.learning_rate == pytest.approx(first.plan.learning_rate * 0.1, rel=0.01)


@pytest.mark.slow
def test_new_classes_keep_the_backbone_and_get_a_new_head(
    five_digit_model, digits_train: Path, digits_heldout: Path  # noqa: ANN001
) -> None:
    from resnet_gui.core.evaluation import evaluate
    from resnet_gui.core.inference import Classifier

    model, _, _ = five_digit_model
    lines: list[str] = []
    res = train(TrainConfig(str(digits_train), epochs=6, init=str(model)),
                on_log=lambda d: lines.append(d.get("message", "")))
    assert any("other classes, the backbone is kept and a new head" in ln for ln in lines)
    assert res.class_names == [str(c) for c in range(10)]
    acc = evaluate(Classifier.from_model(res.model), digits_heldout).accuracy
    assert acc > 0.5  # ten classes learned (chance 0.1) in six epochs


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
