"""The confusion matrix as a colour-scaled grid: true classes as rows, counts or row percentages,
the row percentage on hover; a click on a cell reports (true, predicted)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem


def _shade(fraction: float, diagonal: bool) -> QColor:
    """White to blue (right answers) or white to red (mistakes) by the row fraction."""
    f = max(0.0, min(1.0, fraction)) ** 0.6  # small mistakes still visible
    base = (31, 119, 180) if diagonal else (214, 39, 40)
    return QColor(*(int(255 - (255 - c) * f) for c in base))


class ConfusionMatrixView(QTableWidget):
    """Shows a confusion matrix; emits ``cell_chosen(true, predicted)`` when a cell is clicked."""

    cell_chosen = Signal(int, int)

    def __init__(self) -> None:
        super().__init__()
        self.matrix: list[list[int]] = []
        self.show_percent = False
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.setMouseTracking(True)
        self.cellClicked.connect(self._clicked)
        # Moving with the keyboard lists a cell's images too.
        self.currentCellChanged.connect(lambda row, col, *_: self._clicked(row, col))

    def set_matrix(self, classes: list[str], matrix: list[list[int]]) -> None:
        """Show ``matrix`` (rows: true class, columns: predicted)."""
        self.matrix = [list(r) for r in matrix]
        n = len(classes)
        self.clear()
        self.setRowCount(n)
        self.setColumnCount(n)
        self.setHorizontalHeaderLabels([f"→ {c}" for c in classes])
        self.setVerticalHeaderLabels(classes)
        self.horizontalHeader().setToolTip("Predicted class")
        self.verticalHeader().setToolTip("True class (the image's folder)")
        for i, row in enumerate(self.matrix):
            total = sum(row)
            for j, count in enumerate(row):
                frac = count / total if total else 0.0
                item = QTableWidgetItem()
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                item.setBackground(QBrush(_shade(frac, i == j)))
                item.setForeground(QBrush(QColor("white" if frac > 0.6 else "black")))
                item.setToolTip(
                    f"{count} of {total} '{classes[i]}' image(s) predicted '{classes[j]}' "
                    f"({frac:.1%} of the row). Click to see them."
                    if total else f"no '{classes[i]}' images"
                )
                item.setData(Qt.ItemDataRole.UserRole, frac)
                self.setItem(i, j, item)
        self._fill_text()

    def set_show_percent(self, on: bool) -> None:
        """Show row percentages instead of counts."""
        self.show_percent = bool(on)
        self._fill_text()

    def _fill_text(self) -> None:
        for i, row in enumerate(self.matrix):
            for j, count in enumerate(row):
                item = self.item(i, j)
                if item is None:
                    continue
                frac = item.data(Qt.ItemDataRole.UserRole)
                item.setText(f"{frac:.0%}" if self.show_percent else str(count))

    def _clicked(self, row: int, column: int) -> None:
        if row >= 0 and column >= 0:
            self.cell_chosen.emit(row, column)
