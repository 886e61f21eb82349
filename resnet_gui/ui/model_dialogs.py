"""Dialogs that act on a loaded model: where it looked, sort a folder, export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from resnet_gui.ui.widgets.prediction_card import pixmap_from_array
from resnet_gui.ui.workers import ThreadPool, Worker, explain_one_work, export_work, sort_work


def _path_row(edit: QLineEdit, choose: Any) -> QWidget:
    host = QWidget()
    row = QHBoxLayout(host)
    row.setContentsMargins(0, 0, 0, 0)
    button = QPushButton("Choose…")
    button.clicked.connect(choose)
    row.addWidget(edit, 1)
    row.addWidget(button)
    return host


class ExplainView(QDialog):
    """A photo with its Grad-CAM heat-map over it, and a slider for the overlay's opacity."""

    def __init__(self, pool: ThreadPool, classifier: Any, path: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Where the model looked: {Path(path).name}")
        self.resize(720, 760)
        self.photo: np.ndarray | None = None
        self.heat: np.ndarray | None = None
        self.image = QLabel("Computing the heat-map…")
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumSize(320, 320)
        self.caption = QLabel("")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 100)
        self.slider.setValue(50)
        self.slider.valueChanged.connect(self._render)
        row = QHBoxLayout()
        row.addWidget(QLabel("Overlay opacity:"))
        row.addWidget(self.slider, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.image, 1)
        layout.addWidget(self.caption)
        layout.addLayout(row)
        layout.addWidget(buttons)
        self.worker = pool.submit(explain_one_work(classifier, path), name="explain-one",
                                  connect={"returned": self._ready, "errored": self._failed})

    @Slot(object)
    def _ready(self, result: tuple) -> None:
        self.photo, self.heat, label = result
        self.caption.setText(
            f"Bright: the regions that most raised the score of <b>{label}</b> (Grad-CAM)."
        )
        self._render()

    @Slot(str, str)
    def _failed(self, message: str, tb: str) -> None:
        self.image.setText(f"Cannot explain this photo: {message}")

    @Slot()
    def _render(self, _: int = 0) -> None:
        if self.photo is None or self.heat is None:
            return
        from resnet_gui.core.use.explain import overlay

        pix = pixmap_from_array(overlay(self.photo, self.heat, self.slider.value() / 100))
        enlarged = pix.width() * 2 < self.image.width() and pix.height() * 2 < self.image.height()
        # A small photo enlarged smoothly is a blur: show its pixels instead.
        mode = (Qt.TransformationMode.FastTransformation if enlarged
                else Qt.TransformationMode.SmoothTransformation)
        self.image.setPixmap(pix.scaled(
            self.image.size(), Qt.AspectRatioMode.KeepAspectRatio, mode,
        ))

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._render()

    def done(self, result: int) -> None:  # noqa: D102 - Qt API
        self.worker.stop()
        super().done(result)


class SortDialog(QDialog):
    """Sort a folder of photos into one folder per predicted class (copy or move)."""

    def __init__(self, pool: ThreadPool, classifier: Any, min_confidence: float = 0.0,
                 source: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self.classifier = classifier
        self.worker: Worker | None = None
        self.report: Any = None
        self.setWindowTitle("Sort into folders")
        self.setMinimumWidth(560)
        self.source_edit = QLineEdit(source)
        self.out_edit = QLineEdit()
        self.copy_radio = QRadioButton("Copy (the photos stay where they are)")
        self.move_radio = QRadioButton("Move (each photo is deleted once its copy is verified)")
        self.copy_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.copy_radio)
        group.addButton(self.move_radio)
        self.conf_spin = QSpinBox()
        self.conf_spin.setRange(0, 99)
        self.conf_spin.setSuffix(" %")
        self.conf_spin.setSpecialValueText("off")
        self.conf_spin.setValue(int(round(min_confidence * 100)))
        self.conf_spin.setToolTip("Photos below this top probability go to _uncertain")
        form = QFormLayout()
        form.addRow("Photos from:", _path_row(self.source_edit, self._choose_source))
        form.addRow("Sort into:", _path_row(self.out_edit, self._choose_out))
        form.addRow("", self.copy_radio)
        form.addRow("", self.move_radio)
        form.addRow("Min. confidence:", self.conf_spin)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.summary = QLabel("Each photo goes to <i>folder/class name/</i>; "
                              "every file is listed in predictions.csv there.")
        self.summary.setWordWrap(True)
        self.start_button = QPushButton("Sort")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.summary)
        layout.addLayout(buttons)

    def _choose_source(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Photos to sort", self.source_edit.text())
        if folder:
            self.source_edit.setText(folder)

    def _choose_out(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Sort into", self.out_edit.text())
        if folder:
            self.out_edit.setText(folder)

    def start(self) -> None:
        """Start sorting (or stop a sort in progress)."""
        if self.worker is not None:
            self.worker.stop()
            self.summary.setText("Stopping after this batch…")
            return
        source, out = self.source_edit.text().strip(), self.out_edit.text().strip()
        if not source or not Path(source).exists():
            self.summary.setText("Choose the folder of photos to sort.")
            return
        if not out:
            self.summary.setText("Choose the folder to sort into.")
            return
        self.report = None
        self.start_button.setText("Stop")
        self.summary.setText("Sorting…")
        self.worker = self.pool.submit(
            sort_work(self.classifier, [source], out, self.move_radio.isChecked(),
                      self.conf_spin.value() / 100),
            name="sort",
            connect={"progressed": self._progress, "returned": self._done,
                     "errored": self._failed, "finished": self._finished},
        )

    @Slot(object)
    def _progress(self, done_total: tuple[int, int]) -> None:
        done, total = done_total
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    @Slot(object)
    def _done(self, report: Any) -> None:
        self.report = report
        lines = [report.summary().capitalize() + "."]
        lines += [f"Left in place: {Path(p).name}: {why}" for p, why in report.unreadable[:8]]
        if len(report.unreadable) > 8:
            lines.append(f"… and {len(report.unreadable) - 8} more (see predictions.csv)")
        from resnet_gui.core.use.sorting import SORT_CSV

        lines.append(f"Every file is listed in {Path(report.out_dir) / SORT_CSV}")
        self.summary.setText("<br>".join(lines))

    @Slot(str, str)
    def _failed(self, message: str, tb: str) -> None:
        self.summary.setText(f"<span style='color:#b00'>Not sorted: {message}</span>")

    @Slot()
    def _finished(self) -> None:
        self.worker = None
        self.start_button.setText("Sort")

    def reject(self) -> None:  # noqa: D102 - Qt API
        if self.worker is not None:
            self.worker.stop()  # every file stays whole; the dialog closes at once
        super().reject()


class ExportDialog(QDialog):
    """Export the model as SavedModel / TFLite / ONNX and check the file in its own runtime."""

    def __init__(self, pool: ThreadPool, classifier: Any, check_folder: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from resnet_gui.core.use.export import EXPORT_FORMATS

        self.pool = pool
        self.classifier = classifier
        self.worker: Worker | None = None
        self.result: Any = None
        self.setWindowTitle("Export model")
        self.setMinimumWidth(600)
        self.format_combo = QComboBox()
        for name, label in (("savedmodel", "SavedModel (TensorFlow, TF Serving)"),
                            ("tflite", "TFLite / LiteRT (phones, edge devices)"),
                            ("onnx", "ONNX (onnxruntime, other languages)")):
            if name in EXPORT_FORMATS:
                self.format_combo.addItem(label, name)
        self.format_combo.currentIndexChanged.connect(self._format_changed)
        self.out_edit = QLineEdit()
        self.int8_box = QCheckBox("Quantise to int8 (about 4x smaller; calibrated on the "
                                  "check images)")
        self.check_edit = QLineEdit(check_folder)
        self.check_edit.setPlaceholderText("a folder of images (optional, recommended)")
        form = QFormLayout()
        form.addRow("Format:", self.format_combo)
        form.addRow("Save as:", _path_row(self.out_edit, self._choose_out))
        form.addRow("", self.int8_box)
        form.addRow("Check on:", _path_row(self.check_edit, self._choose_check))
        self.busy = QProgressBar()
        self.busy.setRange(0, 1)
        self.status = QLabel(
            f"Input: float32 RGB 0-255, {classifier.image_size}x{classifier.image_size} "
            "(resize before calling); output: probabilities. model_card.json and labels.txt "
            "are written beside the export."
        )
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.export_button = QPushButton("Export")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.start)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.busy)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self._format_changed()

    @property
    def fmt(self) -> str:
        """The chosen format's name ("savedmodel", "tflite", "onnx")."""
        return str(self.format_combo.currentData())

    def _default_out(self) -> str:
        from resnet_gui.core.use.export import EXPORT_FORMATS

        source = Path(str(self.classifier.info.get("source") or ""))
        if not source.suffix:  # "(just trained)": not a file
            source = Path.home() / "model.keras"
        suffix = EXPORT_FORMATS[self.fmt][1] or "_savedmodel"
        return str(source.with_suffix("")) + suffix

    def _format_changed(self, _: int = 0) -> None:
        self.int8_box.setEnabled(self.fmt == "tflite")
        if self.fmt != "tflite":
            self.int8_box.setChecked(False)
        self.out_edit.setText(self._default_out())

    def _choose_out(self) -> None:
        if self.fmt == "savedmodel":  # a new folder is made inside the chosen one
            parent = QFileDialog.getExistingDirectory(self, "Export into a new folder in")
            path = str(Path(parent) / Path(self._default_out()).name) if parent else ""
        else:
            suffix = {"tflite": "TFLite (*.tflite)", "onnx": "ONNX (*.onnx)"}[self.fmt]
            path, _ = QFileDialog.getSaveFileName(self, "Export as", self.out_edit.text(), suffix)
        if path:
            self.out_edit.setText(path)

    def _choose_check(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Images to check the export on")
        if folder:
            self.check_edit.setText(folder)

    def start(self) -> None:
        """Export (and check) in the background."""
        from resnet_gui.core.base.errors import InputError
        from resnet_gui.core.use.export import target_path

        check = self.check_edit.text().strip() or None
        int8 = self.int8_box.isChecked()
        try:
            target_path(self.fmt, self.out_edit.text().strip())
            if int8 and not check:
                raise InputError("int8 needs a folder of check images to calibrate on")
        except InputError as exc:
            self.status.setText(f"<span style='color:#b00'>{exc}</span>")
            return
        self.export_button.setEnabled(False)
        self.busy.setRange(0, 0)
        self.worker = self.pool.submit(
            export_work(self.classifier, self.fmt, self.out_edit.text().strip(), int8,
                        check if int8 else None, check),
            name="export",
            connect={"progressed": self.status.setText, "returned": self._done,
                     "errored": self._failed, "finished": self._finished},
        )

    @Slot(object)
    def _done(self, result: tuple) -> None:
        self.result = result
        exported, check = result
        text = f"Exported <b>{exported.path}</b>."
        if check is not None:
            colour = "#1a7f37" if check.passed else "#b00"
            verdict = "passed" if check.passed else f"below {check.threshold:.0%}: do not ship"
            text += f"<br><span style='color:{colour}'>{check.line()} ({verdict})</span>"
        self.status.setText(text)

    @Slot(str, str)
    def _failed(self, message: str, tb: str) -> None:
        self.status.setText(f"<span style='color:#b00'>Export failed: {message}</span>")

    @Slot()
    def _finished(self) -> None:
        self.worker = None
        self.busy.setRange(0, 1)
        self.export_button.setEnabled(True)
