"""The Training tab: pick a folder, read its scan report, set hyperparameters, train, watch, save."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from resnet_gui.core.base.text import format_duration, format_epoch_line
from resnet_gui.ui.file_filters import KERAS_FILTER
from resnet_gui.ui.widgets.drop_zone import FolderDropTarget
from resnet_gui.ui.widgets.loss_plot import LossPlot
from resnet_gui.ui.widgets.train_settings import TrainSettingsForm
from resnet_gui.ui.workers import ThreadPool, Worker, scan_work, training_work


class TrainingTab(FolderDropTarget, QWidget):
    """See the module docstring. Emits ``model_ready`` with a core Classifier after training."""

    model_ready = Signal(object)
    trained = Signal(object)
    status = Signal(str)
    folder_opened = Signal(str)
    model_saved = Signal(str)
    run_finished = Signal()  # after every run: trained, stopped or failed

    def __init__(self, pool: ThreadPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self.report: Any = None
        self.result: Any = None
        self.classifier: Any = None  # the trained model, wrapped once
        self.scan_worker: Worker | None = None
        self.train_worker: Worker | None = None
        #: Called with a folder before it is scanned (the main window finishes a data set
        #: edit a crash cut short there).
        self.before_scan: Any = None
        self._quiet_scan = False
        self._abort = threading.Event()
        self.setAcceptDrops(True)
        self._build()
        self._update_enabled()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)

        data_box = QGroupBox("Dataset — one subfolder per class")
        dl = QVBoxLayout(data_box)
        row = QHBoxLayout()
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("Choose or drop a folder…")
        self.folder_edit.returnPressed.connect(lambda: self.open_folder(self.folder_edit.text()))
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self.choose_folder)
        row.addWidget(self.folder_edit, 1)
        row.addWidget(self.browse_button)
        dl.addLayout(row)
        self.scan_label = QLabel("No dataset yet.")
        self.scan_label.setWordWrap(True)
        dl.addWidget(self.scan_label)
        self.resume_bar = QFrame()
        self.resume_bar.setObjectName("resumeBar")
        self.resume_bar.setStyleSheet(
            "#resumeBar { background: #fff4d6; border: 1px solid #e0b44c; border-radius: 4px; }"
        )
        bar = QHBoxLayout(self.resume_bar)
        bar.setContentsMargins(8, 4, 8, 4)
        self.resume_label = QLabel("")
        self.resume_button = QPushButton("Resume")
        self.resume_button.clicked.connect(lambda: self.start_training(resume=True))
        self.discard_button = QPushButton("Discard")
        self.discard_button.clicked.connect(self.discard_checkpoint)
        bar.addWidget(self.resume_label, 1)
        bar.addWidget(self.resume_button)
        bar.addWidget(self.discard_button)
        self.resume_bar.hide()
        dl.addWidget(self.resume_bar)
        self.report_tree = QTreeWidget()
        self.report_tree.setHeaderLabels(["Class / file", "Images / reason"])
        self.report_tree.setColumnWidth(0, 220)
        self.report_tree.setMinimumHeight(140)
        dl.addWidget(self.report_tree)
        lv.addWidget(data_box, 2)

        self.form = TrainSettingsForm()
        self.form.changed.connect(self._update_enabled)
        lv.addWidget(self.form, 3)

        buttons = QHBoxLayout()
        self.train_button = QPushButton("Train")
        self.train_button.setDefault(True)
        self.train_button.setToolTip("Start training (Ctrl+T)")
        self.train_button.clicked.connect(self.start_training)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop_training)
        self.save_button = QPushButton("Save model…")
        self.save_button.clicked.connect(self.save_model_dialog)
        self.use_button = QPushButton("Use in Inference tab")
        self.use_button.clicked.connect(self.use_model)
        self.again_button = QPushButton("Train again")
        self.again_button.setToolTip(
            "Continue from the current model on the data set as it is now (after fixing "
            "labels or adding photos), then compare accuracy before and after")
        for b in (self.train_button, self.again_button, self.stop_button, self.save_button,
                  self.use_button):
            buttons.addWidget(b)
        lv.addLayout(buttons)

        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.progress.setTextVisible(True)
        self.progress_label = QLabel("Idle")
        rv.addWidget(self.progress)
        rv.addWidget(self.progress_label)
        self.plot = LossPlot()
        rv.addWidget(self.plot, 3)
        self.summary_label = QLabel("")
        self.summary_label.setWordWrap(True)
        self.summary_label.setStyleSheet("font-weight: 600;")
        rv.addWidget(self.summary_label)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.log.setPlaceholderText("Training log")
        rv.addWidget(self.log, 1)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)

    def _update_enabled(self) -> None:
        busy = self.train_worker is not None
        self.form.set_busy(busy)
        for w in (self.browse_button, self.folder_edit):
            w.setEnabled(not busy)
        can_train = self.report is not None and not busy and self.scan_worker is None
        self.train_button.setEnabled(can_train)
        self.again_button.setEnabled(can_train)
        self.train_button.setToolTip(
            "Start training (Ctrl+T)" if can_train else
            ("Training…" if busy else "Choose a dataset folder first")
        )
        self.stop_button.setEnabled(busy)
        self.save_button.setEnabled(self.result is not None and not busy)
        self.use_button.setEnabled(self.result is not None and not busy)

    # ------------------------------------------------------------------ dataset
    def choose_folder(self) -> None:
        """Ask for a dataset folder."""
        path = QFileDialog.getExistingDirectory(self, "Choose dataset folder", self.folder_edit.text())
        if path:
            self.open_folder(path)

    def open_folder(self, path: str, quiet: bool = False) -> None:
        """Scan ``path`` in the background and show its report (``quiet``: a rescan after an
        edit, which leaves the status bar to the edit's message)."""
        if not path:
            return
        self._quiet_scan = quiet
        if self.scan_worker is not None:
            self.scan_worker.stop()
        if self.before_scan is not None:
            self.before_scan(str(path))
        self.folder_edit.setText(str(path))
        self.report = None
        self.report_tree.clear()
        self.scan_label.setText(f"Scanning {path}…")
        self.scan_worker = self.pool.submit(scan_work(str(path)), name="scan", connect={
            "progressed": self._scan_progress,
            "returned": self._scan_done,
            "errored": self._scan_failed,
            "finished": self._scan_finished,
        })
        self._update_enabled()

    @Slot(object)
    def _scan_progress(self, progress: tuple[int, int]) -> None:
        if self.sender() is self.scan_worker:
            self.scan_label.setText(f"Checking images… {progress[0]}/{progress[1]}")

    @Slot()
    def _scan_finished(self) -> None:
        if self.sender() is self.scan_worker:
            self.scan_worker = None
        self._update_enabled()

    @Slot(object)
    def _scan_done(self, report: Any) -> None:
        if self.sender() is not self.scan_worker or report is None:  # None: stopped
            return
        self.report = report
        from resnet_gui.core.train.recipe import auto_augment

        self.form.set_auto_augment(*auto_augment(report))
        self.folder_opened.emit(report.root)
        self._show_interrupted_run()
        counts = report.counts
        self.scan_label.setText(
            f"{len(report.classes)} classes, {len(report.images)} usable images "
            f"(median {report.median_size()} px), {len(report.unusable)} unusable — "
            f"scanned in {report.seconds:.1f} s"
        )
        self.report_tree.clear()
        classes = QTreeWidgetItem(self.report_tree, ["Classes", str(len(report.images))])
        for name, n in counts.items():
            QTreeWidgetItem(classes, [name, str(n)])
        classes.setExpanded(True)
        if report.unusable:
            bad = QTreeWidgetItem(self.report_tree, [f"Unusable files ({len(report.unusable)})", ""])
            bad.setForeground(0, Qt.GlobalColor.darkRed)
            for u in report.unusable:
                child = QTreeWidgetItem(bad, [Path(u.path).name, u.reason])
                child.setToolTip(0, u.path)
                child.setToolTip(1, u.detail or u.reason)
        if report.warnings:
            warn = QTreeWidgetItem(self.report_tree, [f"Warnings ({len(report.warnings)})", ""])
            warn.setForeground(0, Qt.GlobalColor.darkYellow)
            for w in report.warnings:
                item = QTreeWidgetItem(warn, [w, ""])
                item.setToolTip(0, w)
            warn.setExpanded(True)
        if not self._quiet_scan:
            self.status.emit(f"Dataset: {report.root}")

    @Slot(str, str)
    def _scan_failed(self, message: str, tb: str) -> None:
        if self.sender() is not self.scan_worker:
            return
        self.scan_label.setText(f"Cannot use this folder: {message}")
        QMessageBox.warning(self, "Cannot use this folder", message)

    def folder_dropped(self, path: str) -> None:
        """A folder dropped on the tab: scan it."""
        self.open_folder(path)

    def _checkpoint(self) -> Any:
        from resnet_gui.core.train.checkpoint import Checkpoint

        return Checkpoint.for_run(self.report.root, None) if self.report else None

    def _show_interrupted_run(self) -> None:
        """The bar "Training was interrupted at epoch 4 of 30 - Resume / Discard", if so."""
        checkpoint = self._checkpoint()
        state = checkpoint.state() if checkpoint is not None else None
        if state is None:
            self.resume_bar.hide()
            return
        done, total = state["epochs_done"], state["epochs"]
        self.resume_label.setText(
            f"A finished run of this folder was not saved (epoch {done} of {total})."
            if done >= total else f"Training was interrupted at epoch {done} of {total}."
        )
        self.resume_bar.show()

    def discard_checkpoint(self) -> None:
        """Forget the interrupted run of this folder."""
        checkpoint = self._checkpoint()
        if checkpoint is not None:
            checkpoint.discard()
        self.resume_bar.hide()

    # ------------------------------------------------------------------ training
    def make_config(self, resume: bool = False, init: str | None = None) -> Any:
        """A core TrainConfig from the widgets (``resume``: the interrupted run's settings;
        ``init``: continue from that model, keeping its architecture, size and width)."""
        from resnet_gui.core.base.config import TrainConfig

        data = self.report.root if self.report else self.folder_edit.text()
        kwargs = self.form.config_kwargs()
        if init:
            kwargs.update(arch="auto", image_size=None, width=None, weights="auto", init=init)
        return TrainConfig(data_dir=data, resume=resume, **kwargs)

    def start_training(self, resume: bool = False, init: str | None = None) -> None:
        """Start a training run in a worker thread (``resume``: continue the interrupted one;
        ``init``: continue from that model file, as "Train again" does)."""
        if self.report is None or self.train_worker is not None:
            return
        config = self.make_config(resume, init)
        self.resume_bar.hide()
        self._abort.clear()
        self.result = None
        self.plot.clear()
        self.log.clear()
        self.summary_label.setText("")
        self.progress.setValue(0)
        self.progress.setFormat("Starting…")
        self.progress_label.setText("Preparing (TensorFlow loads on first use)…")
        self.train_worker = self.pool.submit(
            training_work(config, self.report, self._abort), name="train", connect={
                "progressed": self._on_progress,
                "returned": self._on_trained,
                "errored": self._on_train_error,
                "finished": self._on_train_finished,
            },
        )
        self.status.emit("Training…")
        self._update_enabled()

    def stop_training(self) -> None:
        """Ask the running training to stop after the current batch."""
        if self.train_worker is not None:
            self.train_worker.stop()
            self.progress_label.setText("Stopping after this batch…")

    def abort_training(self) -> None:
        """End the training process at once (the app is quitting; its checkpoint stays)."""
        self._abort.set()
        self.stop_training()

    @property
    def training(self) -> bool:
        """True while a training run is in progress."""
        return self.train_worker is not None

    @Slot(object)
    def _on_progress(self, event: dict) -> None:
        kind = event.get("kind")
        if kind == "batch":
            self.plot.add_batch(event)
            done = (event["epoch"] - 1) * event["batches"] + event["batch"]
            total = event["epochs"] * event["batches"]
            self.progress.setValue(int(1000 * done / max(1, total)))
            self.progress.setFormat(f"epoch {event['epoch']}/{event['epochs']} — %p%")
            self.progress_label.setText(
                f"Epoch {event['epoch']}/{event['epochs']}, batch {event['batch']}/"
                f"{event['batches']} — loss {event['loss']:.4f}, accuracy "
                f"{event['accuracy']:.3f} — ETA {format_duration(event['eta'])}"
            )
        elif kind == "epoch":
            self.plot.add_epoch(event)
            self.log.appendPlainText(format_epoch_line(event))
        elif kind == "log":
            if "message" in event:
                self.log.appendPlainText(event["message"])
            if "phase" in event:
                self.progress_label.setText(f"{event['phase'].capitalize()}…")

    @Slot(object)
    def _on_trained(self, result: Any) -> None:
        from resnet_gui.core.use.inference import Classifier

        if result is None:  # stopped before the first batch: nothing to keep
            self.progress.setFormat("stopped")
            self.progress_label.setText("Stopped before training began")
            self.status.emit("Training stopped before it began; nothing to save")
            self._show_interrupted_run()
            return
        self.result = result
        # One classifier for the run: the Inference and Evaluation tabs share it.
        self.classifier = Classifier.from_model(result.model, source="(just trained)")
        best = result.best_epoch
        acc = f"{result.val_accuracy:.1%}" if result.val_accuracy is not None else "n/a"
        stopped = " (stopped by you)" if result.stopped else ""
        if not result.stopped and len(result.history) < result.plan.epochs:
            stopped = (f" in {len(result.history)} of up to {result.plan.epochs} epochs (the "
                       "validation loss had stopped improving)")
        self.summary_label.setText(
            f"Done{stopped}: best epoch {best}, validation accuracy {acc}, "
            f"{result.seconds:.0f} s. Save the model or use it in the Inference tab."
        )
        self.progress.setValue(1000)
        self.progress.setFormat("done")
        self.progress_label.setText("Finished")
        self.status.emit(f"Training finished: validation accuracy {acc}")
        self.trained.emit(result)

    @Slot(str, str)
    def _on_train_error(self, message: str, details: str) -> None:
        self.log.appendPlainText(f"error: {message}")
        if details.strip():
            self.log.appendPlainText(details.rstrip())
        self.progress.setFormat("failed")
        self.progress_label.setText("Training failed")
        QMessageBox.critical(self, "Training failed", message)

    @Slot()
    def _on_train_finished(self) -> None:
        self.train_worker = None
        self.plot.flush()
        self._update_enabled()
        self.run_finished.emit()

    # ------------------------------------------------------------------ results
    def save_model_dialog(self) -> None:
        """Ask where to save the trained model and save it atomically."""
        if self.result is None:
            return
        default = str(Path(self.report.root).with_suffix("").name + ".keras") if self.report else ""
        path, _ = QFileDialog.getSaveFileName(self, "Save model", default, KERAS_FILTER)
        if path:
            self.save_model(path)

    def save_model(self, path: str) -> bool:
        """Save the trained model to ``path`` (``.keras`` added when missing)."""
        from resnet_gui.core.base.errors import ResnetGuiError

        if not path.endswith(".keras"):
            path += ".keras"
        try:
            saved = self.result.save(path)
        except ResnetGuiError as exc:
            QMessageBox.critical(self, "Cannot save the model", str(exc))
            return False
        self.log.appendPlainText(f"saved {saved}")
        self.status.emit(f"Saved {saved}")
        self.model_saved.emit(str(saved))
        return True

    def use_model(self) -> None:
        """Hand the trained model to the Inference tab."""
        if self.result is not None:
            self.model_ready.emit(self.classifier)
