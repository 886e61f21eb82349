"""The Evaluation tab: where the model fails, how sure it is, which labels look wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
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

from resnet_gui.core.use.evaluation import IMAGE_ORDERS
from resnet_gui.ui.evaluation_images import EvaluationImages
from resnet_gui.ui.widgets.confusion_matrix import ConfusionMatrixView
from resnet_gui.ui.widgets.drop_zone import FolderDropTarget
from resnet_gui.ui.widgets.evaluation_charts import ReliabilityChart, RobustnessChart
from resnet_gui.ui.widgets.image_list import ImageList
from resnet_gui.ui.workers import ThreadPool, Worker, evaluate_work


class _NumberItem(QTableWidgetItem):
    """A table item that sorts by its number (a class without images sorts first)."""

    def __init__(self, value: float | int | None, text: str) -> None:
        super().__init__(text)
        self.value = -1.0 if value is None else float(value)
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        return self.value < getattr(other, "value", -1.0)


class EvaluationTab(EvaluationImages, FolderDropTarget, QWidget):
    """See the module docstring. ``set_classifier`` gives it the model to evaluate."""

    status = Signal(str)
    folder_opened = Signal(str)

    def __init__(self, pool: ThreadPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self.edits: Any = None  # a DataEdits (set_edits): fix labels from the thumbnails
        self.data_root = ""  # the data set of the report shown
        self.evaluated: Any = None  # what it was evaluated on: a folder, or a DatasetReport
        self.before: tuple[float, int, str] | None = None  # see set_before
        self._cell: tuple[int, int] | None = None  # the confusion-matrix cell shown
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

        self._build_details()

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

    def _build_details(self) -> None:
        """The pages beside the table: the confusion matrix and its cells' images, suspected
        label errors, all images, calibration, robustness."""
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

        all_page = QWidget()
        av = QVBoxLayout(all_page)
        order_row = QHBoxLayout()
        self.order_combo = QComboBox()
        for key, text in IMAGE_ORDERS.items():
            self.order_combo.addItem(text, key)
        self.order_combo.currentIndexChanged.connect(lambda _i: self._fill_all())
        self.all_label = QLabel("")
        order_row.addWidget(QLabel("Order:"))
        order_row.addWidget(self.order_combo)
        order_row.addWidget(self.all_label, 1)
        self.all_images = ImageList()
        self.all_images.setObjectName("all_images")
        av.addLayout(order_row)
        av.addWidget(self.all_images, 1)
        self.details.addTab(all_page, "All images")
        self.image_lists = (self.cell_images, self.error_images, self.all_images)

        self.calibration = ReliabilityChart()
        self.details.addTab(self.calibration, "Calibration")
        self.robustness = RobustnessChart()
        self.details.addTab(self.robustness, "Robustness")

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
        self.before = None
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
        self.data_root = data if isinstance(data, str) else data.root
        self.evaluated = data
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
        self._cell = None
        self.all_label.setText("")
        for images in self.image_lists:
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
        self._show_summary()
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
        self._fill_all()
        self.calibration.show_report(report)
        self.robustness.show_report(report)
        self.status.emit(f"Evaluation: accuracy {report.accuracy:.1%} on {n} images")

    def set_before(self, accuracy: float, images: int, folder: str) -> None:
        """The accuracy before "Train again" on ``folder`` ('': the validation images of the
        run), shown beside the next evaluation's when it is of the same kind."""
        self.before = (accuracy, images, folder)

    def _show_summary(self) -> None:
        report = self.report
        skipped = f"; {len(report.unusable)} file(s) could not be read" if report.unusable else ""
        changed = self.changed_since_evaluation()
        since = (f" — {changed} label{'s' if changed != 1 else ''} changed since this "
                 "evaluation" if changed else "")
        before = ""
        folder = self.evaluated if isinstance(self.evaluated, str) else ""
        if self.before is not None and self.before[2] == folder:
            what = "images" if folder else "validation images of the previous run"
            now = "" if folder else " of this run"
            before = (f"<br>Before Train again: {self.before[0]:.1%} on {self.before[1]} "
                      f"{what} → after: {report.accuracy:.1%} on {len(report.paths)}{now}")
        self.summary.setText(
            f"Accuracy {report.accuracy:.1%} on {len(report.paths)} images{skipped}{since}"
            + before)

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

    def folder_dropped(self, path: str) -> None:
        """A folder dropped on the tab: evaluate on it."""
        self.evaluate_folder(path)

    # ------------------------------------------------- the thumbnails workers' slots
    # Declared here, not in the EvaluationImages mixin: PySide6 called the mixin's slots in the
    # worker's thread (workers.check_gui_slot).
    @Slot(object)
    def _thumbnail(self, item: tuple[str, Any]) -> None:
        self._take_thumbnail(item)

    @Slot()
    def _thumbs_finished(self) -> None:
        self._end_thumbnails()
