"""Training tab and main window: drop a folder, train with a live plot, stop, close, settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox

from resnet_gui.core.base.config import AUGMENTATIONS, DEFAULT_AUGMENT
from tests.ui.conftest import drop


def _scan(qtbot, window, folder: Path) -> None:  # noqa: ANN001
    tab = window.training_tab
    entered, dropped = drop(tab, [folder])
    assert entered and dropped
    qtbot.waitUntil(lambda: tab.report is not None, timeout=30_000)


def _fast(tab) -> None:  # noqa: ANN001
    tab.form.weights_combo.setCurrentIndex(tab.form.weights_combo.findData("none"))
    tab.form.arch_combo.setCurrentIndex(tab.form.arch_combo.findData("resnet18"))
    tab.form.batch_spin.setValue(4)
    for cb in tab.form.aug_checks.values():
        cb.setChecked(False)


def test_drop_folder_shows_report(qtbot, window, tmp_path: Path, tiny_data: Path) -> None:  # noqa: ANN001
    import shutil

    from tests.core.badfiles import write_bad_and_odd

    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    write_bad_and_odd(data / "china")
    _scan(qtbot, window, data)
    tab = window.training_tab
    top = [tab.report_tree.topLevelItem(i).text(0) for i in range(tab.report_tree.topLevelItemCount())]
    assert top[0] == "Classes" and top[1] == "Unusable files (4)"
    assert tab.report_tree.topLevelItem(0).child(0).text(0) == "china"
    assert tab.train_button.isEnabled()
    # A file is not a dataset: the drop is refused.
    assert drop(tab, [data / "china" / "good.jpg"]) == (False, False)


def test_bad_folder_shows_error_dialog(qtbot, window, tmp_path: Path) -> None:  # noqa: ANN001
    tab = window.training_tab
    (tmp_path / "only").mkdir()
    tab.open_folder(str(tmp_path))
    qtbot.waitUntil(lambda: bool(window.dialogs), timeout=10_000)
    assert window.dialogs[0][0] == "Cannot use this folder"
    assert "only one class" in window.dialogs[0][1]
    assert not tab.train_button.isEnabled()


@pytest.mark.slow
def test_train_stop_plot_save_and_use(qtbot, window, tiny_data: Path, tmp_path: Path) -> None:  # noqa: ANN001
    """The tab's one real training from start to end (the child process, the worker, the plot,
    Stop, Save, Use): the other tests of training in a child check their part alone."""
    tab = window.training_tab
    _scan(qtbot, window, tiny_data)
    _fast(tab)
    tab.form.epochs_spin.setValue(200)
    epochs: list[dict] = []
    tab.start_training()
    assert not tab.train_button.isEnabled() and tab.stop_button.isEnabled()
    tab.train_worker.progressed.connect(
        lambda e: epochs.append(e) if e.get("kind") == "epoch" else None
    )
    qtbot.waitUntil(lambda: len(epochs) >= 1, timeout=180_000)
    tab.stop_button.click()
    qtbot.waitUntil(lambda: not tab.training, timeout=60_000)
    assert tab.result is not None and tab.result.stopped and not window.dialogs
    done = len(tab.result.history)
    assert 1 <= done <= 3  # stopped within a batch or so of the click, not after 200 epochs
    batches, drawn = tab.plot.point_counts()
    assert drawn == done and batches >= 2
    summary = tab.summary_label.text()
    assert "stopped by you" in summary and "validation accuracy" in summary
    assert "epoch   1/200" in tab.log.toPlainText()
    assert tab.save_button.isEnabled()
    out = tmp_path / "model.keras"
    assert tab.save_model(str(out)) and out.is_file()
    assert tab.plot.export_png(str(tmp_path / "plot.png"))
    tab.use_button.click()
    assert window.inference_tab.classifier is not None
    assert window.tabs.currentWidget() is window.inference_tab


@pytest.mark.slow
def test_close_during_training_stops_and_joins(
    qtbot, window, tiny_data: Path, monkeypatch: pytest.MonkeyPatch  # noqa: ANN001
) -> None:
    tab = window.training_tab
    _scan(qtbot, window, tiny_data)
    _fast(tab)
    tab.form.epochs_spin.setValue(200)
    asked: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "question",
        lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes,
    )
    from resnet_gui.ui import workers

    tab.start_training()
    qtbot.waitUntil(lambda: tab.plot.point_counts()[0] > 0 or tab.result is not None,
                    timeout=120_000)
    thread = tab.train_worker.thread()
    assert thread.isRunning()
    ended: list[bool] = []
    thread.finished.connect(lambda: ended.append(True), Qt.ConnectionType.DirectConnection)
    joined: list[bool] = []
    stop_all = window.pool.stop_all
    monkeypatch.setattr(window.pool, "stop_all", lambda **k: joined.append(stop_all(**k)) or True)
    window.close()
    assert asked and "Stop training" in asked[0]
    # The training thread really ended in time: none left running, none orphaned.
    assert ended == [True] and joined == [True] and not workers._ORPHANS


def test_settings_restored(qtbot, tmp_path: Path) -> None:  # noqa: ANN001
    from resnet_gui.ui.main_window import MainWindow

    path = str(tmp_path / "s.ini")
    first = MainWindow(settings=QSettings(path, QSettings.Format.IniFormat))
    qtbot.addWidget(first)
    first.training_tab.form.arch_combo.setCurrentIndex(1)  # resnet34
    first.training_tab.form.epochs_spin.setValue(7)
    assert first.training_tab.form.aug_auto.isChecked()  # the default
    first.training_tab.form.aug_auto.setChecked(False)
    first.training_tab.form.aug_checks["shear"].setChecked(True)
    first.show()
    first.resize(700, 500)
    first._add_recent("recent/folders", "/data/cats")
    first.inference_tab.min_conf_spin.setValue(70)
    first.close()
    second = MainWindow(settings=QSettings(path, QSettings.Format.IniFormat))
    qtbot.addWidget(second)
    assert second.training_tab.form.arch_combo.currentData() == "resnet34"
    assert second.training_tab.form.epochs_spin.value() == 7
    assert not second.training_tab.form.aug_auto.isChecked()
    assert second.training_tab.form.aug_checks["shear"].isChecked()
    ticked = [n for n in AUGMENTATIONS if n in DEFAULT_AUGMENT or n == "shear"]
    assert second.training_tab.form.config_kwargs()["augment"] == ",".join(ticked)
    assert second.size().width() == 700
    assert [a.text() for a in second.recent_folders_menu.actions()] == ["/data/cats"]
    assert second.inference_tab.min_conf_spin.value() == 70  # the minimum confidence too


def test_imagenet_disabled_for_resnet18_with_reason(window) -> None:  # noqa: ANN001
    tab = window.training_tab
    tab.form.arch_combo.setCurrentIndex(tab.form.arch_combo.findData("resnet18"))
    item = tab.form.weights_combo.model().item(0)
    assert not item.isEnabled() and "no ImageNet weights" in item.toolTip()
    assert not tab.form.mode_frozen.isEnabled() and "pretrained" in tab.form.mode_frozen.toolTip()
    tab.form.arch_combo.setCurrentIndex(tab.form.arch_combo.findData("resnet50"))
    assert tab.form.weights_combo.model().item(0).isEnabled()
    assert tab.form.mode_frozen.isEnabled() and tab.form.mode_frozen.isChecked()


def test_clear_feature_cache_from_the_app(
    window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch  # noqa: ANN001
) -> None:
    import numpy as np

    from resnet_gui.core.train.features import FeatureCache

    monkeypatch.setenv("RESNET_GUI_CACHE", str(tmp_path / "cache"))
    FeatureCache().put("key", "b" * 40, np.ones((1, 4), np.float16))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    window.clear_feature_cache()
    assert FeatureCache().usage() == (0, 0)
    assert "Feature cache cleared: 1 files" in window.statusBar().currentMessage()


def test_form_offers_every_architecture_of_the_core(window) -> None:  # noqa: ANN001
    from resnet_gui.core.model.archs import ARCHITECTURES

    combo = window.training_tab.form.arch_combo
    assert [combo.itemData(i) for i in range(combo.count())] == list(ARCHITECTURES)
    assert combo.findData("resnet152v2") >= 0


def test_auto_augmentation_leaves_flip_off_for_the_demo_digits(qtbot, window) -> None:  # noqa: ANN001
    from resnet_gui.core.base.assets import demo_data_dir

    tab = window.training_tab
    assert tab.form.aug_auto.isChecked() and tab.form.aug_checks["flip"].isChecked()
    _scan(qtbot, window, demo_data_dir())
    checks = tab.form.aug_checks
    assert not checks["flip"].isChecked() and checks["rotate"].isChecked()
    assert not checks["crop"].isChecked() and checks["shift"].isChecked()  # mild framing only
    assert not checks["rotate"].isEnabled()  # Auto decides while it is ticked
    assert "mirrored" in tab.form.aug_auto.toolTip()
    assert tab.form.config_kwargs()["augment"] == "auto"


def test_stop_while_the_child_starts_is_not_a_failure(qtbot, window, tiny_data: Path) -> None:  # noqa: ANN001
    tab = window.training_tab
    _scan(qtbot, window, tiny_data)
    _fast(tab)
    tab.start_training()
    tab.stop_training()  # the child is still importing TensorFlow
    qtbot.waitUntil(lambda: not tab.training, timeout=120_000)
    assert not window.dialogs  # no "Training failed"
    assert tab.progress_label.text() == "Stopped before training began"
    assert tab.result is None and not tab.save_button.isEnabled()


@pytest.mark.slow
def test_interrupted_run_bar_resumes_or_discards(
    qtbot, window, tiny_data: Path, tmp_path: Path  # noqa: ANN001
) -> None:
    import json
    import shutil

    from resnet_gui.core.base.config import TrainConfig
    from resnet_gui.core.train.checkpoint import Checkpoint
    from resnet_gui.core.train.training import train

    config = TrainConfig(str(tiny_data), arch="resnet18", weights="none", epochs=3, width=8,
                         batch_size=4, augment="none")
    seen: list[dict] = []
    train(config, on_epoch=seen.append, should_stop=lambda: len(seen) >= 1)  # "a crash"
    # A copy of this interrupted run's checkpoint stands for a second crash after the save.
    run = Checkpoint.for_run(tiny_data, None).folder
    shutil.copytree(run, tmp_path / "checkpoint")
    tab = window.training_tab
    _scan(qtbot, window, tiny_data)
    assert tab.resume_bar.isVisible()
    assert tab.resume_label.text() == "Training was interrupted at epoch 1 of 3."
    tab.resume_button.click()
    assert not tab.resume_bar.isVisible()
    qtbot.waitUntil(lambda: not tab.training, timeout=180_000)
    assert tab.result is not None and [h["epoch"] for h in tab.result.history] == [1, 2, 3]
    assert "resuming from epoch 1 of 3" in tab.log.toPlainText()
    assert "epoch   3/3" in tab.log.toPlainText()
    summary = tab.summary_label.text()  # a run that ended on its own
    assert summary.startswith("Done:") and "validation accuracy" in summary
    assert tab.plot.point_counts()[1] == 2  # this session drew epochs 2 and 3
    # Until the user saves the model, a crash of the app loses nothing: the checkpoint stays.
    assert Checkpoint.for_run(tiny_data, None).state()["epochs_done"] == 3
    assert tab.save_model(str(tmp_path / "m.keras"))
    assert Checkpoint.for_run(tiny_data, None).state() is None

    # The copy, as a crash at epoch 2 would have left it: the bar must read it afresh.
    shutil.copytree(tmp_path / "checkpoint", run)
    state = json.loads((run / "state.json").read_text())
    (run / "state.json").write_text(json.dumps({**state, "epochs_done": 2}))
    tab.open_folder(str(tiny_data))
    qtbot.waitUntil(lambda: tab.report is not None and tab.resume_bar.isVisible(), timeout=30_000)
    assert tab.resume_label.text() == "Training was interrupted at epoch 2 of 3."
    tab.discard_button.click()
    assert not tab.resume_bar.isVisible() and Checkpoint.for_run(tiny_data, None).state() is None


def test_weights_from_a_model_file_continues_from_it(window, tiny_model: Path) -> None:  # noqa: ANN001
    form = window.training_tab.form
    assert form.choose_init_model(str(tiny_model))
    assert form.weights_combo.currentData() == "model"
    assert not form.arch_combo.isEnabled() and not form.size_spin.isEnabled()
    kwargs = form.config_kwargs()
    assert kwargs["init"] == str(tiny_model)
    assert kwargs["arch"] == "auto" and kwargs["image_size"] is None
    form.weights_combo.setCurrentIndex(form.weights_combo.findData("none"))
    assert form.config_kwargs()["init"] is None and form.arch_combo.isEnabled()
