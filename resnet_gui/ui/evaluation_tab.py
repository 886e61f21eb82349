"""The Evaluation tab: where the model fails, how sure it is, which labels look wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from resnet_gui.ui.widgets.confusion_matrix import ConfusionMatrixView
from resnet_gui.ui.widgets.drop_zone import FolderDropTarget
from resnet_gui.ui.widgets.evaluation_charts import ReliabilityChart, RobustnessChart
from resnet_gui.ui.widgets.image_list import MAX_THUMBS, ImageList
from resnet_gui.ui.workers import ThreadPool, Worker, evaluate_work, thumbnails_work


class _NumberItem(QTableWidgetItem):
    """A table item that sorts by its number (a class without images sorts first)."""

    def __init__(self, value: float | int | None, text: str) -> None:
        super().__init__(text)
        self.value = -1.0 if value is None else float(value)
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        return self.value < getattr(other, "value", -1.0)


class EvaluationTab(FolderDropTarget, QWidget):
    """See the module docstring. ``set_classifier`` gives it the model to evaluate."""

    status = Signal(str)
    folder_opened = Signal(str)

    def __init__(self, pool: ThreadPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self.classifier: Any = None
        self.validation: Any = None  # a DatasetReport of the last training run's validation
        self.report: Any = None
        self.eval_worker: Worker | None = None
        self.thumb_workers: dict[str, Worker] = {}  # one per image list
        self.setAcceptDrops(True)
        self._build()
        self._update_enabled()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        top = QHBoxLayout()
        self.model_label = QLabel("No model yet: train one, or load one in the Inference tab.")
        self.model_label.setWordWrap(True)
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("A class-per-folder tree to evaluate on (or drop one)")
        self.folder_edit.returnPressed.connect(lambda: self.evaluate_folder(self.folder_edit.text()))
        self.browse_button = QPushButton("Folder…")
        self.browse_button.clicked.connect(self.choose_folder)
        self.recent_button = QToolButton()
        self.recent_button.setText("Recent")
        self.recent_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.recent_menu = QMenu(self.recent_button)
        self.recent_button.setMenu(self.recent_menu)
        self.val_button = QPushButton("Validation images of the last run")
        self.val_button.clicked.connect(self.evaluate_validation)
        self.robust_check = QCheckBox("Robustness")
        self.robust_check.setToolTip(
            "Also measure accuracy on corrupted copies (blur, darker, brighter, JPEG, noise, "
            "rotation): about 7 times the time"
        )
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        top.addWidget(self.folder_edit, 1)
        for w in (self.browse_button, self.recent_button, self.val_button, self.robust_check,
                  self.stop_button):
            top.addWidget(w)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")

        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet("font-size: 15px; font-weight: 600;")
        self.table = QTableWidget(0, 5)
        self.table.setHorizontalHeaderLabels(["class", "precision", "recall", "F1", "images"])
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        self.unusable_label = QLabel("")
        self.unusable_label.setWordWrap(True)
        self.unusable_label.setStyleSheet("color: #8a1c1c;")
        self.unusable_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lv.addWidget(self.summary)
        lv.addWidget(self.table, 1)
        lv.addWidget(self.unusable_label)

        self.details = QTabWidget()
        matrix_page = QWidget()
        mv = QVBoxLayout(matrix_page)
        self.percent_check = QCheckBox("Row percentages")
        self.matrix = ConfusionMatrixView()
        self.percent_check.toggled.connect(self.matrix.set_show_percent)
        self.matrix.cell_chosen.connect(self.show_cell)
        self.cell_label = QLabel("Click a cell to see its images, most confident first.")
        self.cell_images = ImageList()
        self.cell_images.setObjectName("cell_images")
        mv.addWidget(self.percent_check)
        mv.addWidget(self.matrix, 3)
        mv.addWidget(self.cell_label)
        mv.addWidget(self.cell_images, 2)
        self.details.addTab(matrix_page, "Confusion matrix")

        errors_page = QWidget()
        ev = QVBoxLayout(errors_page)
        self.errors_label = QLabel("")
        self.errors_label.setWordWrap(True)
        self.error_images = ImageList()
        self.error_images.setObjectName("error_images")
        ev.addWidget(self.errors_label)
        ev.addWidget(self.error_images, 1)
        self.details.addTab(errors_page, "Suspected label errors")

        self.calibration = ReliabilityChart()
        self.details.addTab(self.calibration, "Calibration")
        self.robustness = RobustnessChart()
        self.details.addTab(self.robustness, "Robustness")

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([430, 870])  # the per-class table whole, the details beside it
        layout = QVBoxLayout(self)
        layout.addWidget(self.model_label)
        layout.addLayout(top)
        layout.addWidget(self.progress)
        layout.addWidget(splitter, 1)

    def _update_enabled(self) -> None:
        busy = self.eval_worker is not None
        ready = self.classifier is not None and not busy
        for w in (self.browse_button, self.folder_edit, self.robust_check, self.recent_button):
            w.setEnabled(ready)
        self.val_button.setEnabled(ready and self.validation is not None)
        self.val_button.setToolTip(
            "" if self.validation is not None else "Train a model first (this session)"
        )
        self.stop_button.setEnabled(busy)

    # ------------------------------------------------------------------ inputs
    @Slot(object)
    def set_classifier(self, classifier: Any) -> None:
        """Evaluate ``classifier`` (a core Classifier) from now on; results shown for another
        model are cleared, and a running evaluation of it is stopped."""
        if classifier is self.classifier:
            return
        self.stop()
        self.classifier = classifier
        if self.report is not None:
            self._clear_results("Model changed: evaluate again.")
        name = classifier.info.get("architecture") or "model"
        source = classifier.info.get("source") or ""
        temp = classifier.temperature
        self.model_label.setText(
            f"<b>{name}</b> · {len(classifier.class_names)} classes · input "
            f"{classifier.image_size} px · temperature {temp:.2f}"
            + (f" · {source}" if source else "")
        )
        self._update_enabled()

    def set_validation(self, report: Any) -> None:
        """Offer the last training run's validation images (a DatasetReport)."""
        self.validation = report
        self._update_enabled()

    def set_recent_folders(self, folders: list[str]) -> None:
        """The folders offered under "Recent" (most recent first)."""
        self.recent_menu.clear()
        for path in folders:
            self.recent_menu.addAction(path, lambda p=path: self.evaluate_folder(p))
        self.recent_button.setVisible(bool(folders))

    def choose_folder(self) -> None:
        """Ask for a class-per-folder tree and evaluate on it."""
        path = QFileDialog.getExistingDirectory(self, "Evaluate on folder", self.folder_edit.text())
        if path:
            self.evaluate_folder(path)

    def evaluate_folder(self, path: str) -> None:
        """Evaluate the current model on the class folders under ``path``."""
        if not path:
            return
        if self.busy:
            self.status.emit("An evaluation is running: stop it first")
            return
        self.folder_edit.setText(str(path))
        self._start(str(path), f"Evaluating on {path}…")

    def evaluate_validation(self) -> None:
        """Evaluate on the validation images of the last training run."""
        if self.validation is not None:
            self._start(self.validation, "Evaluating on the validation images of the last run…")

    def _start(self, data: Any, message: str) -> None:
        if self.classifier is None:
            QMessageBox.information(self, "No model", "Train or load a model first.")
            return
        if self.eval_worker is not None:
            return
        self._clear_results(message)
        self.progress.setValue(0)
        self.progress.setFormat("%p%")
        self.eval_worker = self.pool.submit(
            evaluate_work(self.classifier, data, self.robust_check.isChecked()), name="evaluate",
            connect={
                "progressed": self._progress,
                "returned": self._done,
                "errored": self._failed,
                "finished": self._finished,
            },
        )
        if isinstance(data, str):
            self.folder_opened.emit(data)
        self.status.emit(message)
        self._update_enabled()

    def stop(self) -> None:
        """Stop the evaluation after the current batch."""
        if self.eval_worker is not None:
            self.eval_worker.stop()
            self.progress.setFormat("stopping…")

    def _clear_results(self, message: str) -> None:
        """Forget the shown report (a new evaluation starts, or the model changed)."""
        self.report = None
        self.summary.setText(message)
        self.unusable_label.setText("")
        self.table.setRowCount(0)
        self.matrix.set_matrix([], [])
        for images in (self.cell_images, self.error_images):
            self._stop_thumbnails(images)
            images.clear()
        self.errors_label.setText("")
        self.calibration.show_report(None)
        self.robustness.show_report(None)

    @property
    def busy(self) -> bool:
        """True while an evaluation runs."""
        return self.eval_worker is not None

    @Slot(object)
    def _progress(self, progress: tuple[int, int]) -> None:
        done, total = progress
        self.progress.setValue(int(1000 * done / max(1, total)))

    @Slot(str, str)
    def _failed(self, message: str, details: str) -> None:
        self.summary.setText(f"Cannot evaluate: {message}")
        self.progress.setFormat("failed")
        QMessageBox.warning(self, "Cannot evaluate", message)

    @Slot()
    def _finished(self) -> None:
        self.eval_worker = None
        self._update_enabled()

    # ------------------------------------------------------------------ results
    @Slot(object)
    def _done(self, report: Any) -> None:
        if report is None:
            self.summary.setText("Evaluation stopped.")
            self.progress.setFormat("stopped")
            return
        self.report = report
        self.progress.setValue(1000)
        self.progress.setFormat("done")
        n = len(report.paths)
        skipped = f"; {len(report.unusable)} file(s) could not be read" if report.unusable else ""
        self.summary.setText(f"Accuracy {report.accuracy:.1%} on {n} images{skipped}")
        shown = report.unusable[:20]
        self.unusable_label.setText(
            "Not evaluated (cannot be read):\n" + "\n".join(
                f"{Path(u['path']).name}: {u['reason']}" for u in shown
            ) + (f"\n… and {len(report.unusable) - 20} more" if len(report.unusable) > 20 else "")
            if shown else ""
        )
        self._fill_table(report)
        self.matrix.set_matrix(report.classes, report.confusion_matrix)
        self.cell_label.setText("Click a cell to see its images, most confident first.")
        self._fill_errors(report)
        self.calibration.show_report(report)
        self.robustness.show_report(report)
        self.status.emit(f"Evaluation: accuracy {report.accuracy:.1%} on {n} images")

    def _fill_table(self, report: Any) -> None:
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(report.classes))
        for row, name in enumerate(report.classes):
            m = report.per_class[name]
            self.table.setItem(row, 0, QTableWidgetItem(name))
            for col, key in enumerate(("precision", "recall", "f1"), start=1):
                value = m[key]
                if not m["support"] and key != "precision":
                    text = "no images"
                elif value is None:
                    text = "never predicted"
                else:
                    text = f"{value:.3f}"
                self.table.setItem(row, col, _NumberItem(value, text))
            self.table.setItem(row, 4, _NumberItem(m["support"], str(m["support"])))
        self.table.setSortingEnabled(True)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)

    def _fill_errors(self, report: Any) -> None:
        rows = report.suspected_label_errors
        self.errors_label.setText(
            f"{len(rows)} image(s) whose folder label disagrees with a confident prediction, "
            "most suspicious first; the number is the model's probability for what it sees "
            "minus that for the label. Double-click to open; right-click to show in its folder."
            if rows else "No suspected label errors: no confident prediction contradicts a label."
        )
        paths = self.error_images.show_rows(
            rows, lambda r: f"{Path(r['path']).name}\n{r['label']} → {r['predicted']} "
                            f"({r['confidence']:.2f})"
        )
        self._load_thumbnails(paths, self.error_images)

    @Slot(int, int)
    def show_cell(self, true: int, predicted: int) -> None:
        """List the images of one confusion-matrix cell, most confident first."""
        if self.report is None:
            return
        rows = self.report.cell(true, predicted)
        classes = self.report.classes
        more = f" (first {MAX_THUMBS})" if len(rows) > MAX_THUMBS else ""
        self.cell_label.setText(
            f"{len(rows)} '{classes[true]}' image(s) predicted '{classes[predicted]}'{more}"
        )
        paths = self.cell_images.show_rows(
            rows, lambda r: f"{Path(r['path']).name}\n{r['probability']:.1%}"
        )
        self._load_thumbnails(paths, self.cell_images)

    def _load_thumbnails(self, paths: list[str], target: ImageList) -> None:
        """Decode ``paths``' thumbnails in the background into ``target`` (each list has its
        own worker, so filling one never stops the other)."""
        self._stop_thumbnails(target)
        if paths:
            self.thumb_workers[target.objectName()] = self.pool.submit(
                thumbnails_work(paths), name="thumbnails",
                connect={"progressed": self._thumbnail, "finished": self._thumbs_finished},
            )

    def _stop_thumbnails(self, target: ImageList) -> None:
        worker = self.thumb_workers.pop(target.objectName(), None)
        if worker is not None:
            worker.stop()

    def _list_of(self, worker: Any) -> ImageList | None:
        for name, w in self.thumb_workers.items():
            if w is worker:
                return self.cell_images if name == "cell_images" else self.error_images
        return None  # a stopped worker's late thumbnails: their list was cleared

    @Slot(object)
    def _thumbnail(self, item: tuple[str, Any]) -> None:
        target = self._list_of(self.sender())
        if target is not None:
            target.set_thumbnail(*item)

    @Slot()
    def _thumbs_finished(self) -> None:
        worker = self.sender()
        for name, w in list(self.thumb_workers.items()):
            if w is worker:
                del self.thumb_workers[name]

    def folder_dropped(self, path: str) -> None:
        """A folder dropped on the tab: evaluate on it."""
        self.evaluate_folder(path)
