"""Resume after a crash, atomic saves under SIGKILL, clean stops, early errors (docs/reliability.md)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from resnet_gui.cli import main
from resnet_gui.core.base.config import TrainConfig
from resnet_gui.core.base.errors import (
    STOPPED_BEFORE_TRAINING,
    ModelFileError,
    Stopped,
    TrainingError,
)
from resnet_gui.core.train.checkpoint import Checkpoint
from resnet_gui.core.train.training import train
from tests.conftest import write_digits

CLI = [sys.executable, "-m", "resnet_gui"]


def small_config(data: Path, **kw) -> TrainConfig:  # noqa: ANN003
    settings = {"arch": "resnet18", "weights": "none", "epochs": 6, "width": 8,
                "batch_size": 32, "augment": "none", **kw}
    return TrainConfig(str(data), **settings)


def stop_after(epochs: int):  # noqa: ANN201
    seen: list[int] = []
    return seen.append, lambda: len(seen) >= epochs


@pytest.mark.slow
def test_resume_continues_the_schedule_where_it_stopped(tmp_path: Path) -> None:
    data = write_digits(tmp_path / "data", 12)
    whole = train(small_config(data))  # not saved: its checkpoint stays, as after a crash
    lines: list[str] = []
    on_epoch, stop = stop_after(3)
    first = train(small_config(data), on_epoch=on_epoch, should_stop=stop,
                  on_log=lambda d: lines.append(d.get("message", "")))
    assert any("was interrupted at epoch 6 of 6" in ln and "--resume" in ln for ln in lines)
    assert first.stopped and len(first.history) == 3
    state = Checkpoint.for_run(data, None).state()
    assert state is not None and state["epochs_done"] == 3 and state["epochs"] == 6

    extra = data / "3" / "extra.png"
    extra.write_bytes((data / "3" / sorted(os.listdir(data / "3"))[0]).read_bytes())
    with pytest.raises(TrainingError, match=r"data changed since the interrupted run: 1 file\(s\) "
                                            r"added \(extra.png\); start a fresh run"):
        train(small_config(data, resume=True))
    extra.unlink()

    lines.clear()
    # The resumed run takes the interrupted run's settings, whatever is passed now.
    resumed = train(TrainConfig(str(data), epochs=50, resume=True),
                    on_log=lambda d: lines.append(d.get("message", "")))
    assert "resuming from epoch 3 of 6" in lines
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3, 4, 5, 6]
    # The learning-rate schedule goes on from its position instead of restarting.
    want = [h["learning_rate"] for h in whole.history]
    got = [h["learning_rate"] for h in resumed.history]
    np.testing.assert_allclose(got, want, rtol=1e-5)
    resumed.save(tmp_path / "m.keras")
    assert Checkpoint.for_run(data, None).state() is None  # removed once the model is saved


def test_stop_before_the_first_epoch_is_a_stop_not_a_failure(tmp_path: Path) -> None:
    from resnet_gui.core.train.remote import TrainingProcess

    data = write_digits(tmp_path / "data", 6)
    with pytest.raises(Stopped, match="stopped before training began"):  # before it began
        train(small_config(data), should_stop=lambda: True)
    polls = iter([False])
    with pytest.raises(Stopped, match="stopped before training began"):  # during the scan
        train(small_config(data), should_stop=lambda: next(polls, True))
    # The training process's own answer to its stop flag (set by TrainingProcess.stop): a
    # "stopped" message and a clean exit, not an error.
    process = TrainingProcess(small_config(data))
    try:
        process.stop()
        events = list(process.events())
        assert events[-1]["kind"] == "stopped", events
        assert process._process.exitcode == 0
    finally:
        process.kill()
        process.cleanup()


def test_a_stop_before_the_first_batch_ends_the_child_at_once(tmp_path: Path) -> None:
    """Nothing is learnt before the first batch: the child is ended (SIGKILL), not asked to
    stop and waited for through TensorFlow's import and the first step's tracing."""
    from resnet_gui.core.train.remote import TrainingProcess

    process = TrainingProcess(small_config(write_digits(tmp_path / "data", 6)))
    try:
        with pytest.raises(Stopped, match=STOPPED_BEFORE_TRAINING):
            list(process.events(lambda: True))
        assert process._process.exitcode == -signal.SIGKILL  # a graceful stop exits with 0
    finally:
        process.kill()
        process.cleanup()


def test_unwritable_output_is_reported_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_digits(tmp_path / "data", 6)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert main(["train", str(data), "--out", str(blocker / "m.keras")]) == 2
    err = capsys.readouterr().err
    assert "cannot write" in err and "checked before training" in err and "epoch" not in err


def test_a_full_disk_during_a_save_keeps_the_previous_file(tiny_model: Path, tmp_path: Path) -> None:
    from resnet_gui.core.model.files import save_model
    from resnet_gui.core.use.inference import Classifier

    target = tmp_path / "m.keras"
    target.write_bytes(tiny_model.read_bytes())
    model = Classifier.load(target).model

    class FullDisk:
        def save(self, path: Path) -> None:
            Path(path).write_bytes(b"PK\x03\x04 half a model")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(ModelFileError, match="No space left on device; the previous file"):
        save_model(FullDisk(), target)
    assert Classifier.load(target).model.count_params() == model.count_params()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras"]


SAVE_LOOP = """
import sys
from resnet_gui.core.use.inference import Classifier
from resnet_gui.core.model.files import save_model
model = Classifier.load(sys.argv[1]).model
print("ready", flush=True)
while True:
    save_model(model, sys.argv[2])
"""


@pytest.mark.slow
def test_saves_killed_in_the_middle_of_a_write_leave_a_model_that_loads(
    tiny_model: Path, tmp_path: Path
) -> None:
    """The child is killed the moment its temporary file appears, so the kill lands inside a
    write (the half-written temporary file is left behind to prove it), never between saves."""
    from resnet_gui.core.model.files import save_model
    from resnet_gui.core.use.inference import Classifier

    target = tmp_path / "m.keras"
    target.write_bytes(tiny_model.read_bytes())
    hits = 0
    for _ in range(10):
        child = subprocess.Popen([*CLI[:1], "-c", SAVE_LOOP, str(tiny_model), str(target)],
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        partial = tmp_path / f".m.{child.pid}.tmp.keras"
        deadline = time.monotonic() + 60
        while not partial.exists() and time.monotonic() < deadline:
            time.sleep(0.0005)
        child.kill()
        child.wait()
        hits += partial.exists()  # still there: the kill came before the rename
        Classifier.load(target)  # raises if the file is half-written
        if hits >= 3:
            break
    assert hits >= 3, f"only {hits} kills landed inside a write"
    # The killed saves' temporary files are swept by the next save.
    save_model(Classifier.load(target).model, target)
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]


@pytest.mark.slow
def test_a_killed_cli_run_resumes_to_an_uninterrupted_runs_accuracy(
    digits_train: Path, digits_heldout: Path, tmp_path: Path
) -> None:
    from resnet_gui.core.use.evaluation import evaluate
    from resnet_gui.core.use.inference import Classifier

    flags = ["--epochs", "8", "--width", "8", "--arch", "resnet18", "--weights", "none"]
    out = tmp_path / "m.keras"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen([*CLI, "train", str(digits_train), "--out", str(out), *flags],
                             stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    assert child.stderr is not None
    for line in child.stderr:
        if line.startswith("epoch   4/8"):
            child.send_signal(signal.SIGKILL)  # a crash, not a stop: nothing gets saved
            break
    child.wait()
    assert child.returncode == -signal.SIGKILL and not out.exists()
    done = subprocess.run([*CLI, "train", str(digits_train), "--out", str(out), "--resume"],
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "resuming from epoch 4 of 8" in done.stderr
    assert "epoch   5/8" in done.stderr and "epoch   1/8" not in done.stderr
    resumed = evaluate(Classifier.load(out), digits_heldout).accuracy
    whole = train(TrainConfig(str(digits_train), epochs=8, width=8, arch="resnet18",
                              weights="none", checkpoints=False))
    uninterrupted = evaluate(Classifier.from_model(whole.model), digits_heldout).accuracy
    assert resumed > 0.5  # learned (chance is 0.1)
    assert abs(resumed - uninterrupted) <= 0.1, (resumed, uninterrupted)


@pytest.mark.slow
def test_ctrl_c_stops_saves_and_exits_130(digits_train: Path, tmp_path: Path) -> None:
    """Ctrl-C during ``train`` saves the best weights so far and exits 130. The run's whole
    output is also the check that a machine without a GPU prints none of TensorFlow's C++
    start-up lines ("Could not find cuda drivers", an "E0000 ... cuInit" line): they alarm users
    and say nothing. (One CLI training for both: each costs TensorFlow's import and a trace.)"""
    out = tmp_path / "m.keras"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # the app's own
    child = subprocess.Popen(
        [*CLI, "train", str(digits_train), "--out", str(out), "--epochs", "30", "--width", "8",
         "--arch", "resnet18", "--weights", "none"],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        env={**env, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stderr is not None
    said: list[str] = []
    for line in child.stderr:
        said.append(line)
        if line.startswith("epoch   2/30"):
            child.send_signal(signal.SIGINT)
            break
    stdout, rest = child.communicate(timeout=300)
    assert child.returncode == 130
    assert "(stopped by the user)" in stdout and out.is_file()
    text = "".join(said) + rest + stdout
    for noise in ("cuda", "cuInit", "absl", "E0000", "I0000", "oneDNN"):
        assert noise not in text, text[:2000]


def test_ctrl_c_during_predict_exits_130(tiny_model: Path, tiny_data: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from resnet_gui.core.use.inference import Classifier

    def interrupted(*a, **k):  # noqa: ANN002, ANN003, ANN202
        raise KeyboardInterrupt
        yield

    monkeypatch.setattr(Classifier, "iter_predict", interrupted)
    assert main(["predict", str(tiny_model), str(tiny_data)]) == 130


@pytest.mark.slow
@pytest.mark.parametrize("budget_mb", [2048, 0], ids=["in-memory", "on-the-fly"])
def test_files_broken_after_the_scan_are_dropped_and_named(
    tiny_data: Path, tmp_path: Path, budget_mb: int
) -> None:
    import shutil

    from resnet_gui.core.data.dataset import scan_dataset

    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    report = scan_dataset(data)
    victims = sorted((data / "china").iterdir())[:2]
    victims[0].write_bytes(victims[0].read_bytes()[:200])  # truncated after the scan
    victims[1].unlink()  # deleted after the scan
    lines: list[str] = []
    batches: list[dict] = []
    res = train(small_config(data, epochs=1, val_split=0.0, batch_size=2,
                             memory_budget_mb=budget_mb),
                report=report, on_log=lambda d: lines.append(d.get("message", "")),
                on_batch=batches.append)
    skipped = sorted(ln for ln in lines if ln.startswith("skipped"))
    assert len(skipped) == 2, lines
    assert str(victims[0]) in skipped[0] + skipped[1] and str(victims[1]) in skipped[0] + skipped[1]
    assert all("changed since the scan" in ln for ln in skipped)
    # 10 real images in batches of 2: five batches, none padded with blank images.
    assert max(b["batch"] for b in batches) == 5
    if budget_mb:
        assert res.num_train == 10
    else:
        assert any("decoding from disk every epoch" in ln for ln in lines)


def test_a_batch_too_large_for_the_memory_is_refused_with_a_size_that_fits(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from resnet_gui.core.model.build import build_backbone
    from resnet_gui.core.model.memory import check_batch_fits, training_bytes

    backbone = build_backbone("resnet18", width=32, stem_stride=1)
    per_image, fixed = training_bytes(backbone, 32)
    assert 3e6 < per_image < 6e6  # 32 px, stride-1 stem: about 4 MB of activations per image
    free = 2 * 2**30
    assert check_batch_fits(backbone, 32, 64, free=free) == fixed + 64 * per_image
    with pytest.raises(TrainingError, match=r"needs about .* GB to train, and 2.0 GB is free: "
                                            r"use --batch-size (\d+) or less") as info:
        check_batch_fits(backbone, 32, 4096, free=free)
    suggested = int(str(info.value).split("--batch-size ")[1].split()[0])
    assert check_batch_fits(backbone, 32, suggested, free=free)  # the suggestion fits
    # End to end: refused before the first epoch, with the advice.
    assert main(["train", str(tiny_data), "--out", str(tmp_path / "m.keras"), "--arch",
                 "resnet18", "--weights", "none", "--batch-size", "2000000"]) == 2
    err = capsys.readouterr().err
    assert "GB is free: use --batch-size" in err
    assert "epoch   1/" not in err  # refused before the first epoch
