"""The Inference tab: load a model, drop photos or folders, see each photo's top-k classes."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from resnet_gui.core.model.files import INPUT_SCALES, MODEL_SUFFIXES
from resnet_gui.ui.card_edits import CardEdits
from resnet_gui.ui.explain_cards import ExplainCards
from resnet_gui.ui.file_filters import IMAGE_FILTER, MODEL_FILTER
from resnet_gui.ui.model_dialogs import SortDialog
from resnet_gui.ui.widgets.drop_zone import paths_from_mime
from resnet_gui.ui.widgets.prediction_card import PredictionCard
from resnet_gui.ui.workers import (
    NEEDS_INPUT_SCALE,
    ThreadPool,
    Worker,
    WorkFn,
    imagenet_work,
    load_model_work,
    predict_work,
)

COLUMNS = 3
#: How a model made elsewhere may expect its pixels, as the question offers them.
SCALE_CHOICES = {
    "0-1": "0 to 1 (pixels / 255)",
    "-1-1": "-1 to 1 (pixels / 127.5 - 1; Teachable Machine, MobileNet)",
    "0-255": "0 to 255 (raw pixels)",
}


class InferenceTab(ExplainCards, CardEdits, QWidget):
    """See the module docstring."""

    status = Signal(str)
    model_loaded = Signal(str)
    classifier_changed = Signal(object)
    model_failed = Signal(str)

    def __init__(self, pool: ThreadPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self.classifier: Any = None
        self.cards: list[PredictionCard] = []
        self.queue: list[str] = []
        self.predict_worker: Worker | None = None
        self.load_worker: Worker | None = None
        self.explain_worker: Worker | None = None
        self.setAcceptDrops(True)
        self._build()
        self._update_enabled()

    def _build(self) -> None:
        self.explain_box = QCheckBox("Show where it looked")
        self.explain_box.setToolTip(
            "Overlay each photo with a Grad-CAM heat-map of the predicted class "
            "(double-click a card for a larger view)"
        )
        self.explain_box.toggled.connect(self._explain_toggled)
        top = QHBoxLayout()
        self.load_button = QPushButton("Load model…")
        self.load_button.clicked.connect(self.choose_model)
        self.imagenet_button = QPushButton("ImageNet ResNet-50")
        self.imagenet_button.setToolTip(
            "The stock ResNet-50 (1000 ImageNet classes); needs its weights in the Keras cache"
        )
        self.imagenet_button.clicked.connect(self.load_imagenet)
        top.addWidget(self.load_button)
        top.addWidget(self.imagenet_button)
        top.addWidget(QLabel("Top-k:"))
        self.topk_spin = QSpinBox()
        self.topk_spin.setRange(1, 10)
        self.topk_spin.setValue(3)
        top.addWidget(self.topk_spin)
        top.addWidget(QLabel("Min. confidence:"))
        self.min_conf_spin = QSpinBox()
        self.min_conf_spin.setRange(0, 99)
        self.min_conf_spin.setSuffix(" %")
        self.min_conf_spin.setSpecialValueText("off")
        self.min_conf_spin.setToolTip(
            "Below this top probability a photo is marked uncertain (and 'uncertain' in the CSV)"
        )
        self.min_conf_spin.valueChanged.connect(self._refresh_uncertain)
        top.addWidget(self.min_conf_spin)
        top.addWidget(self.explain_box)
        top.addStretch(1)
        self.model_info = QLabel("No model loaded. Load a .keras file, drop one here, or train one.")
        self.model_info.setWordWrap(True)
        self.model_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        actions = QHBoxLayout()
        self.add_button = QPushButton("Add images…")
        self.add_button.clicked.connect(self.choose_images)
        self.paste_button = QPushButton("Paste")
        self.paste_button.setToolTip("Classify image files or an image from the clipboard (Ctrl+V)")
        self.paste_button.clicked.connect(self.paste)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.clear)
        self.copy_button = QPushButton("Copy results")
        self.copy_button.clicked.connect(self.copy_results)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self.export_csv_dialog)
        self.sort_button = QPushButton("Sort into folders…")
        self.sort_button.setToolTip("Copy or move a folder of photos into one folder per class")
        self.sort_button.clicked.connect(self.sort_dialog)
        for b in (self.add_button, self.paste_button, self.clear_button, self.copy_button,
                  self.export_button, self.sort_button):
            actions.addWidget(b)
        actions.addStretch(1)
        self.count_label = QLabel("")
        actions.addWidget(self.count_label)

        self.placeholder = QLabel("Drop photos or folders here")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet(
            "color: palette(mid); font-size: 18px; border: 2px dashed palette(mid);"
            " border-radius: 10px; padding: 40px;"
        )
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.grid.addWidget(self.placeholder, 0, 0, 1, COLUMNS)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.grid_host)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.model_info)
        layout.addLayout(actions)
        layout.addWidget(scroll, 1)

    def _update_enabled(self) -> None:
        has_model = self.classifier is not None
        self.add_button.setEnabled(has_model)
        self.paste_button.setEnabled(has_model)
        self.sort_button.setEnabled(has_model)
        self.explain_box.setEnabled(has_model)
        tip = "" if has_model else "Load a model first"
        self.add_button.setToolTip(tip)
        self.clear_button.setEnabled(bool(self.cards))
        self.copy_button.setEnabled(bool(self.cards))
        self.export_button.setEnabled(bool(self.cards))
        self.load_button.setEnabled(self.load_worker is None)
        self.imagenet_button.setEnabled(self.load_worker is None)

    # ------------------------------------------------------------------ models
    def choose_model(self) -> None:
        """Ask for a model file and load it."""
        path, _ = QFileDialog.getOpenFileName(self, "Open model", "", MODEL_FILTER)
        if path:
            self.load_model(path)

    def load_model(self, path: str, input_scale: str | None = None) -> None:
        """Load a ``.keras`` or ``.h5`` file in the background (errors become a dialog)."""
        self._start_load(load_model_work(str(path), input_scale), f"Loading {path}…")

    def load_imagenet(self) -> None:
        """Load the stock ImageNet ResNet-50 (weights from the Keras cache or the network)."""
        self._start_load(imagenet_work(), "Loading ImageNet ResNet-50…")

    def _start_load(self, work: WorkFn, message: str) -> None:
        self.model_info.setText(message)
        self.load_worker = self.pool.submit(work, name="load", connect={
            "returned": self._loaded,
            "errored": self._load_failed,
            "finished": self._load_finished,
        })
        self._update_enabled()

    @Slot()
    def _load_finished(self) -> None:
        self.load_worker = None
        self._update_enabled()

    @Slot(str, str)
    def _load_failed(self, message: str, tb: str) -> None:
        self.model_info.setText(f"Could not load the model: {message}")
        self.model_failed.emit(message)
        QMessageBox.critical(self, "Cannot load model", message)

    def ask_input_scale(self, path: str, message: str) -> str | None:
        """Ask how a model made elsewhere expects its pixels (None: cancelled)."""
        labels = list(SCALE_CHOICES.values())
        choice, ok = QInputDialog.getItem(
            self, "How does this model expect its pixels?",
            f"{Path(path).name} does not say how its input pixels are scaled.\n"
            "Choose what it was trained with:", labels, 0, False,
        )
        return list(SCALE_CHOICES)[labels.index(choice)] if ok and choice in labels else None

    @Slot(object)
    def _loaded(self, result: Any) -> None:
        if isinstance(result, tuple) and result and result[0] == NEEDS_INPUT_SCALE:
            _, path, message = result
            scale = self.ask_input_scale(path, message)
            if scale in INPUT_SCALES:
                self.load_model(path, scale)
            else:
                self.model_info.setText(f"Not loaded: {message}")
            return
        self.set_classifier(result)

    @Slot(object)
    def set_classifier(self, classifier: Any) -> None:
        """Use ``classifier`` (a core Classifier) for new predictions."""
        self.classifier = classifier
        if self.explain_worker is not None:  # its maps are of the previous model
            self.explain_worker.stop()
            self.explain_worker = None
        self.explain_box.setChecked(False)
        for card in self.cards:
            card.set_overlay(None)  # overlays of another model
        info = classifier.info
        classes = classifier.class_names
        shown = ", ".join(classes[:12]) + (f", … ({len(classes)} in all)" if len(classes) > 12 else "")
        parts = [
            f"<b>{info.get('architecture', 'model') or 'model'}</b>",
            f"input {classifier.image_size} px",
            f"{len(classes)} classes: {shown}",
        ]
        if info.get("val_accuracy") is not None:
            parts.append(f"validation accuracy {float(info['val_accuracy']):.1%}")
        if info.get("trained_at"):
            parts.append(f"trained {info['trained_at']}")
        if info.get("source"):
            parts.append(str(info["source"]))
        if info.get("assumed"):
            parts.append("<i>assumed: " + "; ".join(info["assumed"]) + "</i>")
        self.model_info.setText(" · ".join(parts))
        self.status.emit("Model ready")
        if info.get("source") and Path(str(info["source"])).suffix.lower() in MODEL_SUFFIXES:
            self.model_loaded.emit(str(info["source"]))
        self._update_enabled()
        self.classifier_changed.emit(classifier)
        if self.queue and self.predict_worker is None:
            self._start_next()

    # ------------------------------------------------------------------ inputs
    def choose_images(self) -> None:
        """Ask for images to classify."""
        paths, _ = QFileDialog.getOpenFileNames(self, "Add images", "", IMAGE_FILTER)
        if paths:
            self.add_paths(paths)

    def paste(self) -> None:
        """Classify files (or an image) from the clipboard."""
        mime = QGuiApplication.clipboard().mimeData()
        paths = paths_from_mime(mime)
        if paths:
            self.open_paths(paths)
            return
        if mime.hasImage():
            import tempfile

            image = QGuiApplication.clipboard().image()
            target = Path(tempfile.mkdtemp(prefix="resnet-gui-paste-")) / "pasted.png"
            image.save(str(target), "PNG")
            self.add_paths([str(target)])

    def open_paths(self, paths: list[Path]) -> None:
        """What a drop or paste does: a model file loads a model, the rest are classified."""
        models = [p for p in paths if p.suffix.lower() in MODEL_SUFFIXES]
        others = [str(p) for p in paths if p.suffix.lower() not in MODEL_SUFFIXES]
        if models:
            self.load_model(str(models[0]))
        if others:
            self.add_paths(others)

    def add_paths(self, paths: list[str]) -> None:
        """Queue images/folders for classification (runs when a model is there)."""
        from resnet_gui.core.data.images import expand_inputs

        expanded = expand_inputs(paths)
        if not expanded:
            self.status.emit("No images found in what was dropped")
            return
        self.queue.extend(expanded)
        if self.classifier is None:
            self.status.emit(f"{len(self.queue)} image(s) waiting for a model")
            return
        if self.predict_worker is None:
            self._start_next()

    def _start_next(self) -> None:
        paths, self.queue = self.queue, []
        if not paths:
            return
        self.predict_worker = self.pool.submit(
            predict_work(self.classifier, paths, self.topk_spin.value(),
                         min_confidence=self.min_confidence),
            name="predict",
            connect={
                "progressed": self._add_results,
                "errored": self._predict_failed,
                "finished": self._predict_finished,
            },
        )
        self.status.emit(f"Classifying {len(paths)} image(s)…")

    @Slot(str, str)
    def _predict_failed(self, message: str, tb: str) -> None:
        QMessageBox.critical(self, "Prediction failed", message)

    @Slot()
    def _predict_finished(self) -> None:
        self.predict_worker = None
        self.status.emit(f"{len(self.cards)} image(s) classified")
        if self.queue:
            self._start_next()
        self._update_enabled()

    @Slot(object)
    def _add_results(self, items: list[dict]) -> None:
        if self.placeholder.isVisible() and items:
            self.placeholder.hide()
            self.grid.removeWidget(self.placeholder)
        for item in items:
            preds = item.get("predictions") or []
            # The threshold may have changed since this batch's worker started.
            item["uncertain"] = bool(preds) and preds[0]["probability"] < self.min_confidence
            card = self._make_card(item)
            n = len(self.cards)
            self.grid.addWidget(card, n // COLUMNS, n % COLUMNS)
            self.cards.append(card)
        if self.explain_box.isChecked():
            self._start_explain()
        failed = sum(1 for c in self.cards if c.result.get("error"))
        self.count_label.setText(
            f"{len(self.cards)} image(s)" + (f", {failed} could not be read" if failed else "")
        )
        self._update_enabled()

    @property
    def min_confidence(self) -> float:
        """The minimum confidence as a fraction (0: off)."""
        return self.min_conf_spin.value() / 100.0

    @Slot(int)
    def _refresh_uncertain(self, _: int = 0) -> None:
        """Mark the cards shown already by the new minimum confidence."""
        for i, card in enumerate(list(self.cards)):
            preds = card.result.get("predictions") or []
            uncertain = bool(preds) and preds[0]["probability"] < self.min_confidence
            if uncertain == bool(card.result.get("uncertain")):
                continue
            fresh = self._make_card({**card.result, "uncertain": uncertain}, card.overlay)
            fresh.set_selected(card.selected)
            if self._anchor is card:
                self._anchor = fresh
            self.grid.replaceWidget(card, fresh)
            card.deleteLater()
            self.cards[i] = fresh

    def _make_card(self, result: dict, overlay: Any = None) -> PredictionCard:
        card = PredictionCard(result)
        card.activated.connect(self.show_explanation)
        card.menu_requested.connect(self._card_menu)
        card.key_pressed.connect(self._card_key)
        card.clicked.connect(self._card_clicked)
        card.set_overlay(overlay)
        card.show_overlay(self.explain_box.isChecked())
        return card

    def sort_dialog(self) -> SortDialog | None:
        """Open the "Sort into folders" dialog (returned for tests)."""
        if self.classifier is None:
            return None
        dialog = SortDialog(self.pool, self.classifier, self.min_confidence, parent=self)
        dialog.open()
        return dialog

    def clear(self) -> None:
        """Remove all cards."""
        if self.predict_worker is not None:
            self.predict_worker.stop()
        if self.explain_worker is not None:
            self.explain_worker.stop()
        self.queue = []
        for card in self.cards:
            self.grid.removeWidget(card)
            card.deleteLater()
        self.cards = []
        self._anchor = None
        self.grid.addWidget(self.placeholder, 0, 0, 1, COLUMNS)
        self.placeholder.show()
        self.count_label.setText("")
        self._update_enabled()

    # ------------------------------------------------------------------ results out
    def results_rows(self) -> list[list[str]]:
        """Header + one row per card (the same table as ``predict --format csv``)."""
        from resnet_gui.core.use.inference import prediction_rows

        return prediction_rows(c.result for c in self.cards)

    def copy_results(self) -> None:
        """Copy the results as tab-separated text."""
        text = "\n".join("\t".join(r) for r in self.results_rows())
        QGuiApplication.clipboard().setText(text)
        self.status.emit("Results copied")

    def export_csv_dialog(self) -> None:
        """Ask for a file and write the results as CSV."""
        path, _ = QFileDialog.getSaveFileName(self, "Export results", "predictions.csv", "CSV (*.csv)")
        if path:
            self.export_csv(path)

    def export_csv(self, path: str) -> None:
        """Write the results as CSV to ``path``."""
        with open(path, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(self.results_rows())
        self.status.emit(f"Exported {path}")

    # ------------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        if paths_from_mime(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        paths = paths_from_mime(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    # ------------------------------------------------- the Grad-CAM worker's slots
    # Declared here, not in the ExplainCards mixin: PySide6 called the mixin's slots in the
    # worker's thread (workers.check_gui_slot).
    @Slot(object)
    def _overlays_ready(self, payload: tuple) -> None:
        self._take_overlays(payload)

    @Slot(str, str)
    def _explain_failed(self, message: str, tb: str) -> None:
        self._explain_error(message, tb)

    @Slot(object)
    def _explain_done(self, key: int) -> None:
        self._explain_end(key)
