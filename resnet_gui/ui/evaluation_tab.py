"""The Evaluation tab: where the model fails, how sure it is, which labels look wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from resnet_gui.ui.widgets.confusion_matrix import ConfusionMatrixView
from resnet_gui.ui.widgets.drop_zone import paths_from_mime
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


class EvaluationTab(QWidget):
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
        self.thumb_worker: Worker | None = None
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
        for w in (self.browse_button, self.val_button, self.robust_check, self.stop_button):
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
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.summary)
        lv.addWidget(self.table, 1)

        self.details = QTabWidget()
        matrix_page = QWidget()
        mv = QVBoxLayout(matrix_page)
        self.percent_check = QCheckBox("Row percentages")
        self.matrix = ConfusionMatrixView()
        self.percent_check.toggled.connect(self.matrix.set_show_percent)
        self.matrix.cell_chosen.connect(self.show_cell)
        self.cell_label = QLabel("Click a cell to see its images, most confident first.")
        self.cell_images = ImageList()
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
        ev.addWidget(self.errors_label)
        ev.addWidget(self.error_images, 1)
        self.details.addTab(errors_page, "Suspected label errors")

        self.calibration_label = QLabel("")
        self.calibration_label.setWordWrap(True)
        self.reliability_plot = pg.PlotWidget()
        self.reliability_plot.setLabel("bottom", "confidence")
        self.reliability_plot.setLabel("left", "accuracy")
        self.reliability_plot.setXRange(0, 1, padding=0.02)
        self.reliability_plot.setYRange(0, 1, padding=0.02)
        self.reliability_plot.setMouseEnabled(x=False, y=False)
        cal_page = QWidget()
        cv = QVBoxLayout(cal_page)
        cv.addWidget(self.calibration_label)
        cv.addWidget(self.reliability_plot, 1)
        self.details.addTab(cal_page, "Calibration")

        self.robust_plot = pg.PlotWidget()
        self.robust_plot.setLabel("left", "accuracy")
        self.robust_plot.setYRange(0, 1, padding=0.02)
        self.robust_plot.setMouseEnabled(x=False, y=False)
        self.robust_label = QLabel("Tick Robustness and evaluate to see accuracy on corrupted "
                                   "copies of the images.")
        self.robust_label.setWordWrap(True)
        rob_page = QWidget()
        rv = QVBoxLayout(rob_page)
        rv.addWidget(self.robust_label)
        rv.addWidget(self.robust_plot, 1)
        self.details.addTab(rob_page, "Robustness")

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.addWidget(self.model_label)
        layout.addLayout(top)
        layout.addWidget(self.progress)
        layout.addWidget(splitter, 1)

    def _update_enabled(self) -> None:
        busy = self.eval_worker is not None
        ready = self.classifier is not None and not busy
        for w in (self.browse_button, self.folder_edit, self.robust_check):
            w.setEnabled(ready)
        self.val_button.setEnabled(ready and self.validation is not None)
        self.val_button.setToolTip(
            "" if self.validation is not None else "Train a model first (this session)"
        )
        self.stop_button.setEnabled(busy)

    # ------------------------------------------------------------------ inputs
    @Slot(object)
    def set_classifier(self, classifier: Any) -> None:
        """Evaluate ``classifier`` (a core Classifier) from now on."""
        self.classifier = classifier
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

    def choose_folder(self) -> None:
        """Ask for a class-per-folder tree and evaluate on it."""
        path = QFileDialog.getExistingDirectory(self, "Evaluate on folder", self.folder_edit.text())
        if path:
            self.evaluate_folder(path)

    def evaluate_folder(self, path: str) -> None:
        """Evaluate the current model on the class folders under ``path``."""
        if not path:
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
        self.progress.setValue(0)
        self.progress.setFormat("%p%")
        self.summary.setText(message)
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
        self._fill_table(report)
        self.matrix.set_matrix(report.classes, report.confusion_matrix)
        self.cell_images.clear()
        self.cell_label.setText("Click a cell to see its images, most confident first.")
        self._fill_errors(report)
        self._fill_calibration(report)
        self._fill_robustness(report)
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

    def _fill_errors(self, report: Any) -> None:
        rows = report.suspected_label_errors
        self.errors_label.setText(
            f"{len(rows)} image(s) whose folder label disagrees with a confident prediction, "
            "most suspicious first (the model's probability for what it sees minus that for the "
            "label). Double-click to open; right-click to show in its folder."
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
        if self.thumb_worker is not None:
            self.thumb_worker.stop()
        if not paths:
            return
        self._thumb_target = target
        self.thumb_worker = self.pool.submit(thumbnails_work(paths), name="thumbnails", connect={
            "progressed": self._thumbnail, "finished": self._thumbs_finished,
        })

    @Slot(object)
    def _thumbnail(self, item: tuple[str, Any]) -> None:
        if self.sender() is self.thumb_worker:
            self._thumb_target.set_thumbnail(*item)

    @Slot()
    def _thumbs_finished(self) -> None:
        if self.sender() is self.thumb_worker:
            self.thumb_worker = None

    def _fill_calibration(self, report: Any) -> None:
        cal = report.calibration
        self.calibration_label.setText(
            f"Temperature {cal['temperature']:.2f}. Expected calibration error {cal['ece']:.3f} "
            f"(without calibration {cal['ece_uncalibrated']:.3f}): on average, the stated "
            "confidence is off from the real accuracy by this much. Bars on the diagonal are "
            "perfect calibration; below it, the model is over-confident."
        )
        plot = self.reliability_plot
        plot.clear()
        plot.plot([0, 1], [0, 1], pen=pg.mkPen("#999", style=Qt.PenStyle.DashLine))
        bins = [b for b in report.reliability if b["count"]]
        if bins:
            plot.addItem(pg.BarGraphItem(
                x=[(b["low"] + b["high"]) / 2 for b in bins],
                height=[b["accuracy"] for b in bins],
                width=(bins[0]["high"] - bins[0]["low"]) * 0.9, brush="#1f77b4",
            ))

    def _fill_robustness(self, report: Any) -> None:
        plot = self.robust_plot
        plot.clear()
        if not report.robustness:
            self.robust_label.setText(
                "Tick Robustness and evaluate again to see accuracy on corrupted copies."
            )
            return
        names = list(report.robustness)
        values = [report.robustness[n] for n in names]
        worst = min(names[1:], key=lambda n: report.robustness[n]) if len(names) > 1 else None
        self.robust_label.setText(
            "Accuracy on corrupted copies of the same images (docs/evaluation.md)."
            + (f" Weakest: {worst} ({report.robustness[worst]:.1%})." if worst else "")
        )
        colors = ["#2ca02c"] + ["#d62728" if v < values[0] - 0.1 else "#1f77b4"
                                for v in values[1:]]
        plot.addItem(pg.BarGraphItem(x=list(range(len(names))), height=values, width=0.7,
                                     brushes=colors))
        plot.getAxis("bottom").setTicks([list(enumerate(names))])

    # ------------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        paths = paths_from_mime(event.mimeData())
        if paths and paths[0].is_dir():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        paths = paths_from_mime(event.mimeData())
        if paths and paths[0].is_dir():
            event.acceptProposedAction()
            self.evaluate_folder(str(paths[0]))
