"""Training > Run on a server…: the command for the window's settings, one or several machines."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from PySide6.QtGui import QGuiApplication

from resnet_gui.cli.commands import config_from_args
from resnet_gui.cli.parser import build_parser
from tests.conftest import write_tiny_classes
from tests.ui.test_training_tab import _scan


def test_server_dialog_shows_the_command_for_the_settings(qtbot, window, tmp_path: Path) -> None:  # noqa: ANN001
    data = write_tiny_classes(tmp_path / "photos", n=4)
    _scan(qtbot, window, data)
    form = window.training_tab.form
    form.arch_combo.setCurrentIndex(form.arch_combo.findData("resnet34"))
    form.epochs_spin.setValue(12)
    form.batch_spin.setValue(64)
    training = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Training")
    action = next(a for a in training.actions()
                  if a.text() == "Run on a server…")
    action.trigger()
    dialog = window.server_dialog
    qtbot.waitExposed(dialog)
    argv = shlex.split(dialog.text.toPlainText())
    assert argv[:2] == ["resnet-gui", "train"]
    back = config_from_args(build_parser().parse_args(argv[1:]))
    assert (back.data_dir, back.arch, back.epochs, back.batch_size, back.strategy) == (
        str(data), "resnet34", 12, 64, "auto")
    assert back.run_out == "model.keras"

    dialog.data_edit.setText("/srv/photos")
    dialog.where.setCurrentIndex(dialog.where.findData("multiworker"))
    dialog.hosts_edit.setText("gpu1:2222, gpu2:2222, gpu3:2222")
    lines = [ln for ln in dialog.text.toPlainText().splitlines() if ln.startswith("TF_CONFIG=")]
    assert len(lines) == 3
    for index, line in enumerate(lines):
        env, *argv = shlex.split(line)
        assert json.loads(env.split("=", 1)[1])["task"] == {"type": "worker", "index": index}
        back = config_from_args(build_parser().parse_args(argv[1:]))
        assert (back.data_dir, back.strategy, back.arch) == ("/srv/photos", "multiworker",
                                                             "resnet34")
    dialog.copy()
    assert QGuiApplication.clipboard().text().splitlines() == lines
    dialog.close()
