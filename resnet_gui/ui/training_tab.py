"""The Training tab: pick a folder, read its scan report, set hyperparameters, train, watch, save."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from resnet_gui.ui.widgets.drop_zone import paths_from_mime
from resnet_gui.ui.widgets.loss_plot import LossPlot
from resnet_gui.ui.workers import ThreadPool, Worker, scan_work, training_work

ARCHS = [
    ("resnet18", "ResNet-18 (fast, from scratch)"),
    ("resnet34", "ResNet-34"),
    ("resnet50", "ResNet-50 (ImageNet weights)"),
    ("resnet101", "ResNet-101"),
    ("resnet152", "ResNet-152"),
]
AUGMENTATIONS = ("flip", "rotate", "shift", "zoom", "shear", "contrast")
DEFAULT_AUGMENT = ("flip", "rotate", "shift", "zoom", "contrast")


def format_eta(seconds: float) -> str:
    """'1:05' or '1:02:03'."""
    s = int(max(0, seconds))
    return f"{s // 60}:{s % 60:02d}" if s < 3600 else f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


class TrainingTab(QWidget):
    """See the module docstring. Emits ``model_ready`` with a core Classifier after training."""

    model_ready = Signal(object)
    status = Signal(str)
    folder_opened = Signal(str)
    model_saved = Signal(str)

    def __init__(self, pool: ThreadPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self.report: Any = None
        self.result: Any = None
        self.scan_worker: Worker | None = None
        self.train_worker: Worker | None = None
        self.weights_file = ""
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
        self.report_tree = QTreeWidget()
        self.report_tree.setHeaderLabels(["Class / file", "Images / reason"])
        self.report_tree.setColumnWidth(0, 220)
        self.report_tree.setMinimumHeight(140)
        dl.addWidget(self.report_tree)
        lv.addWidget(data_box, 2)

        params = QGroupBox("Model and training")
        form = QFormLayout(params)
        self.arch_combo = QComboBox()
        for key, title in ARCHS:
            self.arch_combo.addItem(title, key)
        self.arch_combo.currentIndexChanged.connect(self._on_arch_changed)
        form.addRow("Architecture", self.arch_combo)
        self.weights_combo = QComboBox()
        self.weights_combo.addItem("ImageNet (transfer learning)", "imagenet")
        self.weights_combo.addItem("None (train from scratch)", "none")
        self.weights_combo.addItem("Import weights file…", "file")
        self.weights_combo.currentIndexChanged.connect(self._on_weights_changed)
        form.addRow("Weights", self.weights_combo)
        self.size_spin = QSpinBox()
        self.size_spin.setRange(0, 512)
        self.size_spin.setSingleStep(16)
        self.size_spin.setSpecialValueText("Auto")
        self.size_spin.setSuffix(" px")
        form.addRow("Image size", self.size_spin)
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(0, 500)
        self.epochs_spin.setSpecialValueText("Auto")
        form.addRow("Epochs", self.epochs_spin)
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 1024)
        self.batch_spin.setValue(32)
        form.addRow("Batch size", self.batch_spin)
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setDecimals(5)
        self.lr_spin.setRange(0.0, 1.0)
        self.lr_spin.setSingleStep(0.0005)
        self.lr_spin.setSpecialValueText("Auto")
        form.addRow("Learning rate", self.lr_spin)
        self.val_spin = QDoubleSpinBox()
        self.val_spin.setRange(0.0, 0.5)
        self.val_spin.setSingleStep(0.05)
        self.val_spin.setValue(0.2)
        form.addRow("Validation split", self.val_spin)

        mode = QWidget()
        ml = QGridLayout(mode)
        ml.setContentsMargins(0, 0, 0, 0)
        self.mode_full = QRadioButton("Train all layers")
        self.mode_frozen = QRadioButton("Frozen backbone (train the head)")
        self.mode_finetune = QRadioButton("Fine-tune top blocks:")
        self.finetune_spin = QSpinBox()
        self.finetune_spin.setRange(1, 50)
        self.finetune_spin.setValue(3)
        self.mode_group = QButtonGroup(self)
        for i, b in enumerate((self.mode_full, self.mode_frozen, self.mode_finetune)):
            self.mode_group.addButton(b, i)
            b.toggled.connect(self._update_enabled)
        ml.addWidget(self.mode_full, 0, 0, 1, 2)
        ml.addWidget(self.mode_frozen, 1, 0, 1, 2)
        ml.addWidget(self.mode_finetune, 2, 0)
        ml.addWidget(self.finetune_spin, 2, 1)
        form.addRow("Training", mode)

        aug = QWidget()
        al = QGridLayout(aug)
        al.setContentsMargins(0, 0, 0, 0)
        self.aug_checks: dict[str, QCheckBox] = {}
        for i, name in enumerate(AUGMENTATIONS):
            cb = QCheckBox(name)
            cb.setChecked(name in DEFAULT_AUGMENT)
            self.aug_checks[name] = cb
            al.addWidget(cb, i // 3, i % 3)
        form.addRow("Augmentation", aug)
        lv.addWidget(params, 3)

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
        for b in (self.train_button, self.stop_button, self.save_button, self.use_button):
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
        self.arch_combo.setCurrentIndex(0)
        self._on_arch_changed()

    # ------------------------------------------------------------------ settings
    def settings_values(self) -> dict:
        """The hyperparameters as plain data (saved in QSettings between runs)."""
        return {
            "arch": self.arch_combo.currentData(),
            "weights": self.weights_combo.currentData(),
            "image_size": self.size_spin.value(),
            "epochs": self.epochs_spin.value(),
            "batch_size": self.batch_spin.value(),
            "learning_rate": self.lr_spin.value(),
            "val_split": self.val_spin.value(),
            "mode": self.mode_group.checkedId(),
            "fine_tune_blocks": self.finetune_spin.value(),
            "augment": [n for n, cb in self.aug_checks.items() if cb.isChecked()],
        }

    def apply_settings(self, values: dict) -> None:
        """Restore hyperparameters saved by :meth:`settings_values` (unknown keys ignored)."""
        def idx(combo: QComboBox, data: Any) -> None:
            i = combo.findData(data)
            if i >= 0:
                combo.setCurrentIndex(i)

        if "arch" in values:
            idx(self.arch_combo, values["arch"])
        if values.get("weights") in ("imagenet", "none"):
            idx(self.weights_combo, values["weights"])
        for key, spin in (("image_size", self.size_spin), ("epochs", self.epochs_spin),
                          ("batch_size", self.batch_spin), ("fine_tune_blocks", self.finetune_spin)):
            if key in values:
                spin.setValue(int(values[key]))
        for key, spin in (("learning_rate", self.lr_spin), ("val_split", self.val_spin)):
            if key in values:
                spin.setValue(float(values[key]))
        if "mode" in values:
            button = self.mode_group.button(int(values["mode"]))
            if button is not None and button.isEnabled():
                button.setChecked(True)
        if "augment" in values:
            chosen = set(values["augment"] or [])
            for n, cb in self.aug_checks.items():
                cb.setChecked(n in chosen)
        self._update_enabled()

    # ------------------------------------------------------------------ enabling rules
    def _on_arch_changed(self) -> None:
        arch = self.arch_combo.currentData()
        has_imagenet = arch not in ("resnet18", "resnet34")
        item = self.weights_combo.model().item(0)
        item.setEnabled(has_imagenet)
        item.setToolTip("" if has_imagenet else "Keras ships no ImageNet weights for ResNet-18/34")
        if not has_imagenet and self.weights_combo.currentData() == "imagenet":
            self.weights_combo.setCurrentIndex(1)
        elif has_imagenet and self.weights_combo.currentData() == "none":
            self.weights_combo.setCurrentIndex(0)
        self._on_weights_changed()

    def _on_weights_changed(self) -> None:
        if self.weights_combo.currentData() == "file" and not self.weights_file:
            path, _ = QFileDialog.getOpenFileName(
                self, "Import weights file", "", "Keras weights (*.h5 *.weights.h5);;All files (*)"
            )
            if path:
                self.weights_file = path
            else:
                self.weights_combo.setCurrentIndex(1)
                return
        pretrained = self.weights_combo.currentData() in ("imagenet", "file")
        if pretrained and self.mode_full.isChecked():
            self.mode_frozen.setChecked(True)
        if not pretrained:
            self.mode_full.setChecked(True)
        self._update_enabled()

    def _update_enabled(self) -> None:
        busy = self.train_worker is not None
        pretrained = self.weights_combo.currentData() in ("imagenet", "file")
        why = "" if pretrained else "Needs pretrained weights: a random backbone must be trained"
        self.mode_frozen.setEnabled(pretrained and not busy)
        self.mode_frozen.setToolTip(why)
        self.mode_finetune.setEnabled(pretrained and not busy)
        self.mode_finetune.setToolTip(why)
        self.finetune_spin.setEnabled(pretrained and self.mode_finetune.isChecked() and not busy)
        for w in (self.arch_combo, self.weights_combo, self.size_spin, self.epochs_spin,
                  self.batch_spin, self.lr_spin, self.val_spin, self.mode_full,
                  self.browse_button, self.folder_edit, *self.aug_checks.values()):
            w.setEnabled(not busy)
        can_train = self.report is not None and not busy and self.scan_worker is None
        self.train_button.setEnabled(can_train)
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

    def open_folder(self, path: str) -> None:
        """Scan ``path`` in the background and show its report."""
        if not path:
            return
        if self.scan_worker is not None:
            self.scan_worker.stop()
        self.folder_edit.setText(str(path))
        self.report = None
        self.report_tree.clear()
        self.scan_label.setText(f"Scanning {path}…")
        worker = Worker(scan_work(str(path)), name="scan")
        self.scan_worker = worker
        # Bound slots, never lambdas: a lambda has no thread of its own, so Qt would run it in
        # the worker's thread (touching widgets from there crashes; see docs/architecture.md).
        worker.progressed.connect(self._scan_progress)
        worker.returned.connect(self._scan_done)
        worker.errored.connect(self._scan_failed)
        worker.finished.connect(self._scan_finished)
        self.pool.start(worker)
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
        if self.sender() is not self.scan_worker:
            return
        self.report = report
        self.folder_opened.emit(report.root)
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
        self.status.emit(f"Dataset: {report.root}")

    @Slot(str, str)
    def _scan_failed(self, message: str, tb: str) -> None:
        if self.sender() is not self.scan_worker:
            return
        self.scan_label.setText(f"Cannot use this folder: {message}")
        QMessageBox.warning(self, "Cannot use this folder", message)

    # drag and drop of a folder onto the tab
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
            self.open_folder(str(paths[0]))

    # ------------------------------------------------------------------ training
    def make_config(self) -> Any:
        """A core TrainConfig from the widgets."""
        from resnet_gui.core.training import TrainConfig

        v = self.settings_values()
        weights = {"imagenet": "imagenet", "none": "none"}.get(v["weights"], self.weights_file)
        mode = v["mode"]
        return TrainConfig(
            data_dir=self.report.root if self.report else self.folder_edit.text(),
            arch=v["arch"],
            weights=weights,
            image_size=v["image_size"] or None,
            epochs=v["epochs"] or None,
            batch_size=v["batch_size"],
            learning_rate=v["learning_rate"] or None,
            val_split=v["val_split"],
            freeze_base=True if mode in (1, 2) else (False if mode == 0 else None),
            fine_tune_blocks=v["fine_tune_blocks"] if mode == 2 else 0,
            augment=",".join(v["augment"]) or "none",
        )

    def start_training(self) -> None:
        """Start a training run in a worker thread."""
        if self.report is None or self.train_worker is not None:
            return
        config = self.make_config()
        self.result = None
        self.plot.clear()
        self.log.clear()
        self.summary_label.setText("")
        self.progress.setValue(0)
        self.progress.setFormat("Starting…")
        self.progress_label.setText("Preparing (TensorFlow loads on first use)…")
        worker = Worker(training_work(config, self.report), name="train")
        self.train_worker = worker
        worker.progressed.connect(self._on_progress)
        worker.returned.connect(self._on_trained)
        worker.errored.connect(self._on_train_error)
        worker.finished.connect(self._on_train_finished)
        self.pool.start(worker)
        self.status.emit("Training…")
        self._update_enabled()

    def stop_training(self) -> None:
        """Ask the running training to stop after the current batch."""
        if self.train_worker is not None:
            self.train_worker.stop()
            self.progress_label.setText("Stopping after this batch…")

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
                f"{event['accuracy']:.3f} — ETA {format_eta(event['eta'])}"
            )
        elif kind == "epoch":
            self.plot.add_epoch(event)
            val = ""
            if event.get("val_accuracy") is not None:
                val = f"  val_loss {event['val_loss']:.4f}  val_acc {event['val_accuracy']:.4f}"
            star = "  *best*" if event.get("best") else ""
            self.log.appendPlainText(
                f"epoch {event['epoch']:>3}/{event['epochs']}  loss {event['loss']:.4f}  acc "
                f"{event['accuracy']:.4f}{val}  ({event['seconds']:.1f} s){star}"
            )
        elif kind == "log":
            if "message" in event:
                self.log.appendPlainText(event["message"])
            if "phase" in event:
                self.progress_label.setText(f"{event['phase'].capitalize()}…")

    @Slot(object)
    def _on_trained(self, result: Any) -> None:
        self.result = result
        best = result.best_epoch
        acc = f"{result.val_accuracy:.1%}" if result.val_accuracy is not None else "n/a"
        stopped = " (stopped early)" if result.stopped else ""
        self.summary_label.setText(
            f"Done{stopped}: best epoch {best}, validation accuracy {acc}, "
            f"{result.seconds:.0f} s. Save the model or use it in the Inference tab."
        )
        self.progress.setValue(1000)
        self.progress.setFormat("done")
        self.progress_label.setText("Finished")
        self.status.emit(f"Training finished: validation accuracy {acc}")

    @Slot(str, str)
    def _on_train_error(self, message: str, tb: str) -> None:
        self.log.appendPlainText(f"error: {message}")
        self.progress.setFormat("failed")
        self.progress_label.setText("Training failed")
        QMessageBox.critical(self, "Training failed", message)

    @Slot()
    def _on_train_finished(self) -> None:
        self.train_worker = None
        self.plot.flush()
        self._update_enabled()

    # ------------------------------------------------------------------ results
    def save_model_dialog(self) -> None:
        """Ask where to save the trained model and save it atomically."""
        if self.result is None:
            return
        default = str(Path(self.report.root).with_suffix("").name + ".keras") if self.report else ""
        path, _ = QFileDialog.getSaveFileName(self, "Save model", default, "Keras model (*.keras)")
        if path:
            self.save_model(path)

    def save_model(self, path: str) -> bool:
        """Save the trained model to ``path`` (``.keras`` added when missing)."""
        from resnet_gui.core.errors import ResnetGuiError

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
        if self.result is None:
            return
        from resnet_gui.core.inference import Classifier

        self.model_ready.emit(Classifier.from_model(self.result.model, source="(just trained)"))
