"""Train again: after fixing the data, continue from the current model on the updated data set
and show the accuracy before and after, on the same evaluation folder, side by side.

The run starts from the current model (``TrainConfig.init``: the same classes train on at three
tenths of a fresh run's learning rate; a new class gets a new head; a frozen backbone reuses the
feature cache) with the Training tab's other settings. When it ends, the Evaluation tab evaluates
the new model on the folder the last evaluation used, and says "before → after".
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QMessageBox


class TrainAgain(QObject):
    """Wires the Training and Evaluation tabs of ``window`` for one "Train again" at a time."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        #: The evaluation before the run: (accuracy, images, its folder or "" for the
        #: validation images of the run).
        self.before: tuple[float, int, str] | None = None
        self._folder = tempfile.TemporaryDirectory(prefix="resnet-gui-again-")
        window.training_tab.trained.connect(self._trained)
        window.training_tab.run_finished.connect(self._finished)

    def current_model_file(self) -> str | None:
        """A ``.keras`` file of the current model: the file it was loaded from, or the run
        just trained (saved once, as a hand-over copy)."""
        tab = self.window.training_tab
        clf = self.window.evaluation_tab.classifier
        if clf is not None and clf is not tab.classifier:
            source = str(clf.info.get("source") or "")
            return source if source.endswith(".keras") and Path(source).is_file() else None
        if tab.result is None:
            return None
        if tab.result.model_file is not None:
            return str(tab.result.model_file)
        path = Path(self._folder.name) / "current.keras"
        return str(tab.result.save(path, discard_checkpoint=False))

    def start(self) -> bool:
        """Continue from the current model on the Training tab's data set; False (after saying
        why) when there is no model or data set."""
        tab = self.window.training_tab
        if tab.training or tab.scan_worker is not None:
            QMessageBox.information(self.window, "Train again",
                                    "Wait for the running training or scan to end.")
            return False
        if tab.report is None:
            QMessageBox.information(self.window, "Train again",
                                    "Open the data set in the Training tab first.")
            return False
        init = self.current_model_file()
        if init is None:
            QMessageBox.information(
                self.window, "Train again",
                "Train a model, or load one trained by resnet-gui (.keras), first.")
            return False
        ev = self.window.evaluation_tab
        self.before = None
        if ev.report is not None:
            folder = ev.evaluated if isinstance(ev.evaluated, str) else ""
            self.before = (ev.report.accuracy, len(ev.report.paths), folder)
        tab.start_training(init=init)
        self.window.tabs.setCurrentWidget(tab)
        if self.before is None:
            self.window.show_status("Evaluate the model before Train again to see the accuracy "
                                    "before and after")
        return True

    @Slot()
    def _finished(self) -> None:
        """A run that ended without a model (stopped, failed) leaves nothing to compare."""
        self.before = None

    @Slot(object)
    def _trained(self, result: Any) -> None:
        """The new model is evaluated on the folder of the "before" evaluation."""
        if self.before is None or result is None:
            return
        accuracy, images, folder = self.before
        self.before = None
        ev = self.window.evaluation_tab
        ev.set_before(accuracy, images, folder)
        self.window.tabs.setCurrentWidget(ev)
        if folder and Path(folder).is_dir():
            ev.evaluate_folder(folder)
        else:
            ev.evaluate_validation()
