"""The hyperparameter form of the Training tab: widgets, rules for what can combine, and the
mapping to a core TrainConfig. Combinations that cannot work are disabled with a tooltip."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QRadioButton,
    QSpinBox,
    QWidget,
)

from resnet_gui.core.base.config import AUGMENTATIONS, AUTO_AUGMENT_SUMMARY, DEFAULT_AUGMENT
from resnet_gui.core.data.dataset import FEW_IMAGES
from resnet_gui.core.model.archs import ARCHITECTURES, get_arch
from resnet_gui.core.train.schedule import DEFAULT_PATIENCE
from resnet_gui.ui.file_filters import KERAS_FILTER

AUTO_AUGMENT_TIP = "Let the recipe choose: " + AUTO_AUGMENT_SUMMARY

EPOCHS_TIP = (
    "Auto: up to 20-60 epochs (about 600 steps) from scratch; training winds down and stops "
    f"once the validation loss has not improved for {DEFAULT_PATIENCE} epochs (with more than "
    f"{FEW_IMAGES} images per class). A number: exactly that many epochs."
)


class TrainSettingsForm(QGroupBox):
    """Architecture, weights, sizes, schedule, training mode and augmentation."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Model and training", parent)
        self.weights_file = ""
        self.init_model = ""  # "From a model file…": continue from this .keras
        self.busy = False
        form = QFormLayout(self)
        self.arch_combo = QComboBox()
        for spec in ARCHITECTURES.values():
            self.arch_combo.addItem(spec.description, spec.name)
        self.arch_combo.currentIndexChanged.connect(self._on_arch_changed)
        form.addRow("Architecture", self.arch_combo)
        self.weights_combo = QComboBox()
        self.weights_combo.addItem("ImageNet (transfer learning)", "imagenet")
        self.weights_combo.addItem("None (train from scratch)", "none")
        self.weights_combo.addItem("Import weights file…", "file")
        self.weights_combo.addItem("From a model file… (continue training)", "model")
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
        self.epochs_spin.setToolTip(EPOCHS_TIP)
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
        self.aug_auto = QCheckBox("Auto")
        self.aug_auto.setChecked(True)
        self.aug_auto.setToolTip(AUTO_AUGMENT_TIP)
        self.aug_auto.toggled.connect(self._auto_toggled)
        al.addWidget(self.aug_auto, 0, 0)
        self.aug_checks: dict[str, QCheckBox] = {}
        for i, name in enumerate(AUGMENTATIONS, start=1):
            cb = QCheckBox(name)
            cb.setChecked(name in DEFAULT_AUGMENT)
            self.aug_checks[name] = cb
            al.addWidget(cb, i // 4, i % 4)
        self.auto_choice: tuple[str, ...] = DEFAULT_AUGMENT
        self.manual_choice: list[str] = list(DEFAULT_AUGMENT)
        form.addRow("Augmentation", aug)
        self.arch_combo.setCurrentIndex(0)
        self._on_arch_changed()

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
            "augment_auto": self.aug_auto.isChecked(),
            "augment": self.manual_choice if self.aug_auto.isChecked() else self._chosen_augment(),
        }

    def _auto_toggled(self, auto: bool) -> None:
        if auto:  # keep the user's own choice for when Auto goes off again
            self.manual_choice = self._chosen_augment()
        else:
            for name, cb in self.aug_checks.items():
                cb.setChecked(name in self.manual_choice)
        self._update_enabled()

    def _chosen_augment(self) -> list[str]:
        return [n for n, cb in self.aug_checks.items() if cb.isChecked()]

    def set_auto_augment(self, choice: tuple[str, ...], reason: str | None = None) -> None:
        """Show what "Auto" augmentation picks for the current dataset (and why, if it differs
        from the usual choice)."""
        self.auto_choice = tuple(choice)
        self.aug_auto.setToolTip(AUTO_AUGMENT_TIP + (f".\nFor this dataset: {reason}" if reason
                                                     else ""))
        self._update_enabled()

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
        if "augment_auto" in values:
            self.aug_auto.setChecked(bool(values["augment_auto"]))
        if "augment" in values:
            self.manual_choice = [n for n in values["augment"] or [] if n in self.aug_checks]
            if not self.aug_auto.isChecked():
                for n, cb in self.aug_checks.items():
                    cb.setChecked(n in self.manual_choice)
        self._update_enabled()

    def _on_arch_changed(self) -> None:
        spec = get_arch(self.arch_combo.currentData())
        has_imagenet = spec.has_imagenet
        item = self.weights_combo.model().item(0)
        item.setEnabled(has_imagenet)
        item.setToolTip("" if has_imagenet else f"Keras ships no ImageNet weights for {spec.title}")
        if not has_imagenet and self.weights_combo.currentData() == "imagenet":
            self.weights_combo.setCurrentIndex(1)
        elif has_imagenet and self.weights_combo.currentData() == "none":
            self.weights_combo.setCurrentIndex(0)
        self._on_weights_changed()

    def choose_init_model(self, path: str | None = None) -> bool:
        """Continue from a saved model (asked for when ``path`` is None); False if cancelled."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(
                self, "Continue from a model", "", KERAS_FILTER + ";;All files (*)"
            )
        if not path:
            return False
        self.init_model = path
        self.weights_combo.setToolTip(
            f"Continuing from {path}: same classes train on, other classes get a new head; "
            "the architecture and image size are the model's"
        )
        self.weights_combo.setCurrentIndex(self.weights_combo.findData("model"))
        return True

    def _on_weights_changed(self) -> None:
        if self.weights_combo.currentData() == "model" and not self.init_model:
            if not self.choose_init_model():
                self.weights_combo.setCurrentIndex(1)
                return
        if self.weights_combo.currentData() != "model":
            self.weights_combo.setToolTip("")
        if self.weights_combo.currentData() == "file" and not self.weights_file:
            path, _ = QFileDialog.getOpenFileName(
                self, "Import weights file", "", "Keras weights (*.h5 *.weights.h5);;All files (*)"
            )
            if path:
                self.weights_file = path
            else:
                self.weights_combo.setCurrentIndex(1)
                return
        pretrained = self.weights_combo.currentData() in ("imagenet", "file", "model")
        if pretrained and self.mode_full.isChecked() and self.weights_combo.currentData() != "model":
            self.mode_frozen.setChecked(True)
        if not pretrained:
            self.mode_full.setChecked(True)
        self._update_enabled()

    def _update_enabled(self) -> None:
        busy = self.busy
        pretrained = self.weights_combo.currentData() in ("imagenet", "file", "model")
        why = "" if pretrained else "Needs pretrained weights: a random backbone must be trained"
        self.mode_frozen.setEnabled(pretrained and not busy)
        self.mode_frozen.setToolTip(why)
        self.mode_finetune.setEnabled(pretrained and not busy)
        self.mode_finetune.setToolTip(why)
        self.finetune_spin.setEnabled(pretrained and self.mode_finetune.isChecked() and not busy)
        for w in (self.arch_combo, self.weights_combo, self.size_spin, self.epochs_spin,
                  self.batch_spin, self.lr_spin, self.val_spin, self.mode_full, self.aug_auto):
            w.setEnabled(not busy)
        from_model = self.weights_combo.currentData() == "model"
        for w in (self.arch_combo, self.size_spin):  # the model's own, when continuing
            w.setEnabled(not busy and not from_model)
            w.setToolTip("Taken from the model you continue from" if from_model else "")
        auto = self.aug_auto.isChecked()
        for name, cb in self.aug_checks.items():
            cb.setEnabled(not busy and not auto)
            if auto:
                cb.setChecked(name in self.auto_choice)
        self.changed.emit()

    def set_busy(self, busy: bool) -> None:
        """Lock the form while training runs."""
        if busy != self.busy:
            self.busy = busy
            self._update_enabled()

    def config_kwargs(self) -> dict:
        """The TrainConfig arguments the form stands for (everything but the data folder)."""
        v = self.settings_values()
        weights = {"imagenet": "imagenet", "none": "none"}.get(v["weights"], self.weights_file)
        mode = v["mode"]
        from_model = v["weights"] == "model"
        return {
            "arch": "auto" if from_model else v["arch"],
            "weights": "auto" if from_model else weights,
            "init": self.init_model if from_model else None,
            "image_size": None if from_model else (v["image_size"] or None),
            "epochs": v["epochs"] or None,
            "batch_size": v["batch_size"],
            "learning_rate": v["learning_rate"] or None,
            "val_split": v["val_split"],
            "freeze_base": True if mode in (1, 2) else (False if mode == 0 else None),
            "fine_tune_blocks": v["fine_tune_blocks"] if mode == 2 else 0,
            "augment": "auto" if v["augment_auto"] else (",".join(self._chosen_augment()) or "none"),
        }
