"""The main window: tabs, menus, shortcuts, status bar, remembered settings, safe closing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QByteArray, QSettings, Qt, Slot, qVersion
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMainWindow,
    QMessageBox,
    QTabWidget,
    QWidget,
)

from resnet_gui import __version__
from resnet_gui.ui.data_edits import DataEdits
from resnet_gui.ui.evaluation_tab import EvaluationTab
from resnet_gui.ui.inference_tab import InferenceTab
from resnet_gui.ui.resnet_help import ResNetHelpDialog
from resnet_gui.ui.review_tab import ReviewTab
from resnet_gui.ui.train_again import TrainAgain
from resnet_gui.ui.training_tab import TrainingTab
from resnet_gui.ui.workers import ThreadPool, tensorflow_work

MAX_RECENT = 8


class MainWindow(QMainWindow):
    """The application window. ``settings`` defaults to the user's QSettings."""

    def __init__(self, settings: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings or QSettings("resnet-gui", "resnet-gui")
        self.pool = ThreadPool()
        self.tf_info: dict | None = None
        self.setWindowTitle("ResNet GUI — train and use image classifiers")
        self.resize(1280, 800)

        self.tabs = QTabWidget()
        self.training_tab = TrainingTab(self.pool)
        self.inference_tab = InferenceTab(self.pool)
        self.evaluation_tab = EvaluationTab(self.pool)
        self.review_tab = ReviewTab(self.pool)
        self.tabs.addTab(self.training_tab, "Training")
        self.tabs.addTab(self.inference_tab, "Inference")
        self.tabs.addTab(self.evaluation_tab, "Evaluation")
        self.tabs.addTab(self.review_tab, "Review")
        self.edits = DataEdits(self)
        self._pending_evaluation: str | None = None
        self.setCentralWidget(self.tabs)

        self.device_label = QLabel("Loading TensorFlow…")
        self.statusBar().addPermanentWidget(self.device_label)
        self.training_tab.status.connect(self.show_status)
        self.inference_tab.status.connect(self.show_status)
        self.evaluation_tab.status.connect(self.show_status)
        self.review_tab.status.connect(self.show_status)
        self.inference_tab.classifier_changed.connect(self._classifier_changed)
        self.inference_tab.model_failed.connect(self._model_failed)
        self.training_tab.trained.connect(self._training_done)
        self.evaluation_tab.folder_opened.connect(lambda p: self._add_recent("recent/folders", p))
        self.training_tab.model_ready.connect(self._use_trained_model)
        self.training_tab.folder_opened.connect(lambda p: self._add_recent("recent/folders", p))
        self.training_tab.model_saved.connect(lambda p: self._add_recent("recent/models", p))
        self.inference_tab.model_loaded.connect(lambda p: self._add_recent("recent/models", p))
        self._connect_edits()
        self.train_again = TrainAgain(self)  # after _training_done: it evaluates the new model
        self.training_tab.again_button.clicked.connect(self.train_again.start)
        self._build_menus()
        self._restore()

    def _connect_edits(self) -> None:
        """Every view that shows images can fix labels or grow the data set (DataEdits)."""
        data_root = self.training_tab.folder_edit.text
        self.evaluation_tab.set_edits(self.edits)
        self.inference_tab.set_edits(self.edits, data_root)
        self.review_tab.set_edits(self.edits, data_root)
        self.edits.changed.connect(self._data_changed)
        self.edits.said.connect(self.show_status)
        self.edits.busy_root = lambda: (self.training_tab.folder_edit.text()
                                        if self.training_tab.training else "")
        self.training_tab.before_scan = self.edits.recover  # a crashed edit, finished first
        self.training_tab.folder_opened.connect(self._data_set_opened)
        self._opened = ""

    @Slot(str)
    def _data_set_opened(self, root: str) -> None:
        """Another data set in the training tab: Edit > Undo acts on it (a rescan of the same
        one after an edit leaves Undo where the edit was)."""
        if _same(root) != self._opened:
            self._opened = self.edits.current_root = _same(root)
        self.review_tab.refresh_classes()

    @Slot(str, object)
    def _data_changed(self, root: str, action: Any) -> None:
        """The training tab's scan follows the data set; the status bar says what changed."""
        folder = self.training_tab.folder_edit.text()
        if folder and _same(folder) == _same(root) and not self.training_tab.training:
            self.training_tab.open_folder(folder, quiet=True)
        self.show_status(f"{action.describe().capitalize()} in {Path(root).name} "
                         "(Edit ▸ Undo: Ctrl+Z)")

    def undo_edit(self) -> None:
        """Edit > Undo: reverse the last change to the data set (also one from before a
        restart)."""
        action = self.edits.undo()
        if action is None:
            self.show_status("Nothing to undo")

    # ------------------------------------------------------------------ menus
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.open_folder_action = self._action(
            "Open dataset folder…", QKeySequence.StandardKey.Open, self._open_folder
        )
        file_menu.addAction(self.open_folder_action)
        self.open_model_action = self._action(
            "Open model…", QKeySequence("Ctrl+Shift+O"), self._open_model
        )
        file_menu.addAction(self.open_model_action)
        self.save_model_action = self._action(
            "Save model as…", QKeySequence.StandardKey.Save, self.training_tab.save_model_dialog
        )
        file_menu.addAction(self.save_model_action)
        self.export_model_action = self._action("Export model…", None, self.export_model_dialog)
        self.export_model_action.setEnabled(False)
        file_menu.addAction(self.export_model_action)
        file_menu.addSeparator()
        self.recent_folders_menu = file_menu.addMenu("Recent folders")
        self.recent_models_menu = file_menu.addMenu("Recent models")
        file_menu.addSeparator()
        file_menu.addAction(self._action("Quit", QKeySequence.StandardKey.Quit, self.close))

        edit_menu = self.menuBar().addMenu("&Edit")
        self.undo_action = self._action("Undo", QKeySequence.StandardKey.Undo, self.undo_edit)
        edit_menu.addAction(self.undo_action)
        edit_menu.aboutToShow.connect(lambda: self.undo_action.setText(self.edits.undo_text()))

        run_menu = self.menuBar().addMenu("&Training")
        run_menu.addAction(
            self._action("Train", QKeySequence("Ctrl+T"), self.training_tab.start_training)
        )
        run_menu.addAction(self._action("Train again", QKeySequence("Ctrl+Shift+T"),
                                        lambda: self.train_again.start()))
        run_menu.addAction(
            self._action("Stop", QKeySequence("Ctrl+."), self.training_tab.stop_training)
        )
        run_menu.addAction(
            self._action("Export plot as PNG…", QKeySequence("Ctrl+E"), self._export_plot)
        )
        run_menu.addAction(self._action("Run on a server…", None, self.show_server_dialog))
        run_menu.addSeparator()
        run_menu.addAction(self._action("Clear feature cache…", None, self.clear_feature_cache))
        view = self.menuBar().addMenu("&View")
        view.addAction(self._action("Training tab", QKeySequence("Ctrl+1"),
                                    lambda: self.tabs.setCurrentIndex(0)))
        view.addAction(self._action("Inference tab", QKeySequence("Ctrl+2"),
                                    lambda: self.tabs.setCurrentIndex(1)))
        view.addAction(self._action("Evaluation tab", QKeySequence("Ctrl+3"),
                                    lambda: self.tabs.setCurrentIndex(2)))
        view.addAction(self._action("Review tab", QKeySequence("Ctrl+4"),
                                    lambda: self.tabs.setCurrentIndex(3)))
        inf = self.menuBar().addMenu("&Inference")
        inf.addAction(self._action("Add images…", QKeySequence("Ctrl+I"),
                                   self.inference_tab.choose_images))
        inf.addAction(self._action("Paste images", QKeySequence.StandardKey.Paste,
                                   self.inference_tab.paste))
        inf.addAction(self._action("Export results as CSV…", None,
                                   self.inference_tab.export_csv_dialog))
        inf.addAction(self._action("Clear results", None, self.inference_tab.clear))
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self._action("How ResNet works", QKeySequence.StandardKey.HelpContents,
                                         self.show_resnet_help))
        help_menu.addAction(self._action("About resnet-gui", None, self.show_about))
        self._refresh_recent()

    def _action(self, text: str, shortcut: Any, slot: Any) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(lambda checked=False: slot())
        return action

    def _open_folder(self) -> None:
        self.tabs.setCurrentWidget(self.training_tab)
        self.training_tab.choose_folder()

    def _open_model(self) -> None:
        self.tabs.setCurrentWidget(self.inference_tab)
        self.inference_tab.choose_model()

    def _export_plot(self) -> None:
        from PySide6.QtWidgets import QFileDialog

        path, _ = QFileDialog.getSaveFileName(self, "Export plot", "training.png", "PNG (*.png)")
        if path:
            self.training_tab.plot.export_png(path)

    def export_model_dialog(self) -> Any:
        """File > Export model…: SavedModel, TFLite or ONNX, checked in its own runtime."""
        from resnet_gui.ui.model_dialogs import ExportDialog

        classifier = self.inference_tab.classifier or self.training_tab.classifier
        if classifier is None:
            return None
        report = self.training_tab.report
        dialog = ExportDialog(self.pool, classifier, str(report.root) if report else "", self)
        dialog.open()
        return dialog

    def show_server_dialog(self) -> None:
        """The CLI command for the training tab's settings, to run on a bigger machine."""
        from resnet_gui.ui.server_dialog import ServerDialog

        self.server_dialog = ServerDialog(self.training_tab.make_config(), self)
        self.server_dialog.show()

    def clear_feature_cache(self, confirm: bool = True) -> None:
        """Delete the cached backbone features (they are recomputed when needed)."""
        from resnet_gui.core.train.features import FeatureCache

        cache = FeatureCache()
        n, size = cache.usage()
        if confirm and QMessageBox.question(
            self, "Clear feature cache",
            f"Delete {n} cached feature files ({size / 1e6:.1f} MB) in {cache.root}?\n"
            "They are computed again the next time a frozen backbone trains on those images.",
        ) != QMessageBox.StandardButton.Yes:
            return
        removed, freed = cache.clear()
        self.show_status(f"Feature cache cleared: {removed} files, {freed / 1e6:.1f} MB")

    # ------------------------------------------------------------------ recent items
    def _recent(self, key: str) -> list[str]:
        value = self.settings.value(key, [])
        if isinstance(value, str):
            value = [value] if value else []
        return [str(v) for v in (value or [])]

    def _add_recent(self, key: str, path: str) -> None:
        items = [path] + [p for p in self._recent(key) if p != path]
        self.settings.setValue(key, items[:MAX_RECENT])
        self._refresh_recent()

    def _refresh_recent(self) -> None:
        for menu, key, opener in (
            (self.recent_folders_menu, "recent/folders", self._open_recent_folder),
            (self.recent_models_menu, "recent/models", self._open_recent_model),
        ):
            menu.clear()
            items = self._recent(key)
            for path in items:
                act = menu.addAction(path)
                act.triggered.connect(lambda checked=False, p=path, o=opener: o(p))
            menu.setEnabled(bool(items))
        self.evaluation_tab.set_recent_folders(self._recent("recent/folders"))

    def _open_recent_folder(self, path: str) -> None:
        self.tabs.setCurrentWidget(self.training_tab)
        self.training_tab.open_folder(path)

    def _open_recent_model(self, path: str) -> None:
        self.tabs.setCurrentWidget(self.inference_tab)
        self.inference_tab.load_model(path)

    # ------------------------------------------------------------------ start-up
    def start_background_loading(self) -> None:
        """Import TensorFlow in a worker; the status bar then names the device."""
        self.pool.submit(tensorflow_work(), name="tensorflow", connect={
            "returned": self._tf_loaded, "errored": self._tf_failed,
        })

    @Slot(str, str)
    def _tf_failed(self, message: str, tb: str) -> None:
        self.device_label.setText(f"TensorFlow failed to load: {message}")

    @Slot(object)
    def _tf_loaded(self, info: dict) -> None:
        self.tf_info = info
        self.device_label.setText(f"TensorFlow {info['tensorflow']} · {info['device']}")

    def open_with(self, data: str | None = None, model: str | None = None,
                  images: list[str] | None = None, evaluate: str | None = None) -> None:
        """What the command line asks: a folder to train on, a model, images to classify, a
        folder to evaluate the model on (once it is loaded)."""
        if data:
            self.training_tab.open_folder(data)
        if evaluate:
            self._pending_evaluation = evaluate
            self.tabs.setCurrentWidget(self.evaluation_tab)
        if model:
            self.inference_tab.load_model(model)
        if images:
            self.inference_tab.add_paths(list(images))
            self.tabs.setCurrentWidget(self.inference_tab)

    @Slot(object)
    def _classifier_changed(self, classifier: Any) -> None:
        self.export_model_action.setEnabled(True)
        self.evaluation_tab.set_classifier(classifier)
        self.review_tab.set_classifier(classifier)
        if self._pending_evaluation:
            folder, self._pending_evaluation = self._pending_evaluation, None
            self.tabs.setCurrentWidget(self.evaluation_tab)
            self.evaluation_tab.evaluate_folder(folder)

    @Slot(str)
    def _model_failed(self, message: str) -> None:
        self._pending_evaluation = None  # nothing to evaluate: the model did not load

    @Slot(object)
    def _training_done(self, result: Any) -> None:
        """The Evaluation tab gets the new model and its run's validation images."""
        from dataclasses import replace

        report = result.report
        validation = None
        if report is not None and result.val_images:
            wanted = set(result.val_images)
            validation = replace(report, images=[r for r in report.images if r.path in wanted],
                                 unusable=[], warnings=[])
        self.evaluation_tab.set_validation(validation)
        self.evaluation_tab.set_classifier(self.training_tab.classifier)
        self.review_tab.set_classifier(self.training_tab.classifier)
        self.export_model_action.setEnabled(self.training_tab.classifier is not None)

    def show_status(self, text: str) -> None:
        """Show a transient message in the status bar."""
        self.statusBar().showMessage(text, 8000)

    def _use_trained_model(self, classifier: Any) -> None:
        self.inference_tab.set_classifier(classifier)
        self.tabs.setCurrentWidget(self.inference_tab)

    # ------------------------------------------------------------------ help
    def show_about(self) -> None:
        """Versions of the app, Qt and (once loaded) TensorFlow/Keras."""
        tf = self.tf_info or {}
        QMessageBox.about(
            self,
            "About resnet-gui",
            f"<h3>resnet-gui {__version__}</h3>"
            "<p>Train and use ResNet image classifiers on your own photos, offline.</p>"
            f"<p>TensorFlow {tf.get('tensorflow', '(loading…)')} · Keras "
            f"{tf.get('keras', '(loading…)')}<br>Qt {qVersion()} · PySide6 {pyside_version}"
            f"<br>Device: {tf.get('device', '(loading…)')}</p>",
        )

    def show_resnet_help(self) -> None:
        """The illustrated explanation of ResNet."""
        ResNetHelpDialog(self).exec()

    # ------------------------------------------------------------------ settings
    def _restore(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        self.inference_tab.min_conf_spin.setValue(
            int(self.settings.value("inference/min_confidence", 0) or 0)
        )
        raw = self.settings.value("training/hyperparameters", "")
        if raw:
            try:
                self.training_tab.form.apply_settings(json.loads(str(raw)))
            except (ValueError, TypeError):
                pass
        index = self.settings.value("window/tab", 0)
        self.tabs.setCurrentIndex(int(index or 0))

    def save_settings(self) -> None:
        """Remember geometry, the open tab and the hyperparameters."""
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/tab", self.tabs.currentIndex())
        self.settings.setValue("inference/min_confidence", self.inference_tab.min_conf_spin.value())
        self.settings.setValue(
            "training/hyperparameters", json.dumps(self.training_tab.form.settings_values())
        )
        self.settings.sync()

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        """Ask before abandoning a training run; stop and join every worker before closing."""
        if self.training_tab.training:
            answer = QMessageBox.question(
                self,
                "Training in progress",
                "A model is being trained. Stop training and quit?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
            self.statusBar().showMessage("Stopping training…")
            self.training_tab.abort_training()  # confirmed: end the child now
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                self.pool.stop_all(timeout_s=60)
            finally:
                QApplication.restoreOverrideCursor()
        else:
            self.pool.stop_all(timeout_s=60)
        self.save_settings()
        event.accept()


def _same(path: str) -> str:
    """One spelling of a folder's path (``~`` expanded, links followed)."""
    return str(Path(path).expanduser().resolve())
