"""Training in a child process: train()'s own signature and result, without Qt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from resnet_gui.core.base.config import TrainConfig
from resnet_gui.core.base.errors import RemoteTrainingError, TrainingError
from resnet_gui.core.train.remote import train_in_subprocess
from resnet_gui.core.train.training import TrainResult


@pytest.mark.slow
def test_same_result_type_and_callbacks_as_train(tiny_data: Path, tmp_path: Path) -> None:
    calls: list[tuple[str, dict]] = []
    result = train_in_subprocess(
        TrainConfig(str(tiny_data), epochs=2, batch_size=4, width=8, augment="none",
                    weights="none"),
        on_batch=lambda e: calls.append(("batch", e)),
        on_epoch=lambda e: calls.append(("epoch", e)),
        on_log=lambda e: calls.append(("log", e)),
    )
    assert isinstance(result, TrainResult)
    assert result.class_names == ["china", "flower"] and len(result.history) == 2
    assert result.plan.epochs == 2 and result.report is not None and result.num_train == 10
    kinds = [k for k, _ in calls]
    assert kinds.count("epoch") == 2 and "batch" in kinds and kinds[0] == "log"
    assert kinds.index("batch") < kinds.index("epoch")
    assert all("kind" not in e for _, e in calls)
    # The model came back loaded and as a file that save() copies.
    assert result.model_file and Path(result.model_file).is_file()
    saved = result.save(tmp_path / "m.keras")
    from resnet_gui.core.use.inference import Classifier

    probs = Classifier.load(saved).predict_arrays([np.zeros((32, 32, 3), np.uint8)],
                                                  calibrated=False)
    assert probs.shape == (1, 2)
    expected = result.model.predict(np.zeros((1, 32, 32, 3), np.float32), verbose=0)
    assert np.allclose(probs, expected, atol=1e-6)


@pytest.mark.slow
def test_a_failure_in_the_child_is_one_message(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="does not exist") as info:
        train_in_subprocess(TrainConfig(str(tmp_path / "missing"), epochs=1))
    assert isinstance(info.value, RemoteTrainingError)
    assert info.value.child_traceback == ""  # the message says it all


@pytest.mark.slow
def test_an_unexpected_failure_in_the_child_keeps_its_traceback(tiny_data: Path) -> None:
    """A failure no message of ours explains (Keras refuses a dropout rate of 1.5, a setting
    only scripts can give and nothing checks before the model is built) comes back as one
    line, with the child's traceback for the details view."""
    with pytest.raises(RemoteTrainingError) as info:
        train_in_subprocess(TrainConfig(str(tiny_data), epochs=1, dropout=1.5, weights="none",
                                        arch="resnet18", augment="none"))
    err = info.value
    assert "ValueError" in str(err) and "\n" not in str(err)
    assert err.child_traceback.startswith("Traceback (most recent call last)")
    assert "ValueError" in err.child_traceback.splitlines()[-1]
    assert "resnet_gui/core/" in err.child_traceback  # the child's frames, not the parent's
