"""Training > Run on a server…: the exact command for the current settings, to run the same
job on a bigger machine (all its GPUs) or on several machines (TF_CONFIG), then load the model
back (docs/scaling.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from resnet_gui.core.train.server_command import EXAMPLE_PORT, command_line, worker_command_lines

STEPS = (
    "1. Copy the data folder to the server (e.g. <tt>rsync -a DATA server:</tt>) and install "
    "resnet-gui there (<tt>pip install resnet-gui</tt>; TensorFlow with CUDA for GPUs).<br>"
    "2. Run the command (for several machines: each line on its own machine, all at about the "
    "same time; worker 0 writes the model).<br>"
    "3. Copy the model file back and open it (File &gt; Open model…)."
)


class ServerDialog(QDialog):
    """Shows the ``resnet-gui train`` command line(s) for a TrainConfig."""

    def __init__(self, config: Any, parent: Any = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Run on a server")
        self.config = config
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.data_edit = QLineEdit(config.data_dir)
        self.data_edit.setToolTip("Where the data folder will be on the server")
        form.addRow("Data folder there", self.data_edit)
        self.out_edit = QLineEdit("model.keras")
        form.addRow("Model file there", self.out_edit)
        self.where = QComboBox()
        self.where.addItem("One machine (all its GPUs)", "auto")
        self.where.addItem("Several machines (TF_CONFIG)", "multiworker")
        form.addRow("Run on", self.where)
        self.hosts_edit = QLineEdit(f"host1:{EXAMPLE_PORT}, host2:{EXAMPLE_PORT}")
        self.hosts_edit.setToolTip("Each machine's name and a free port, the chief first")
        form.addRow("Machines", self.hosts_edit)
        layout.addLayout(form)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setMinimumSize(560, 130)
        layout.addWidget(self.text)
        steps = QLabel(STEPS)
        steps.setWordWrap(True)
        layout.addWidget(steps)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("Copy")
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.clicked.connect(self.copy)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        for edit in (self.data_edit, self.out_edit, self.hosts_edit):
            edit.textChanged.connect(self.refresh)
        self.where.currentIndexChanged.connect(self.refresh)
        self.refresh()

    def hosts(self) -> list[str]:
        """The machines typed in, "name:port" each."""
        return [h.strip() for h in self.hosts_edit.text().replace(";", ",").split(",")
                if h.strip()]

    def refresh(self) -> None:
        """Rewrite the command for the fields as they are."""
        from resnet_gui.core.base.config import TrainConfig

        multi = self.where.currentData() == "multiworker"
        self.hosts_edit.setEnabled(multi)
        config = TrainConfig.from_dict({**self.config.to_dict(),
                                        "data_dir": self.data_edit.text().strip() or ".",
                                        "strategy": self.where.currentData()})
        out = self.out_edit.text().strip() or "model.keras"
        if Path(out).suffix != ".keras":
            out += ".keras"
        if multi:
            hosts = self.hosts() or [f"host1:{EXAMPLE_PORT}"]
            lines = [f"# on {h.split(':')[0]}:\n{line}"
                     for h, line in zip(hosts, worker_command_lines(config, out, hosts),
                                        strict=True)]
            self.text.setPlainText("\n\n".join(lines))
        else:
            self.text.setPlainText(command_line(config, out))

    def copy(self) -> None:
        """Put the command(s) on the clipboard (comment lines left out)."""
        lines = [ln for ln in self.text.toPlainText().splitlines()
                 if ln.strip() and not ln.startswith("#")]
        QGuiApplication.clipboard().setText("\n".join(lines))
