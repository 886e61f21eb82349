"""A list of image thumbnails with captions: double-click opens an image in the system's
viewer, the context menu opens it or shows it in its folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QIcon
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QMenu

from resnet_gui.ui.widgets.prediction_card import pixmap_from_array

#: Thumbnails shown for one list at most (the caller says how many there are in all).
MAX_THUMBS = 200


def open_path(path: str) -> None:
    """Open a file or folder with the system's viewer."""
    QDesktopServices.openUrl(QUrl.fromLocalFile(path))


class ImageList(QListWidget):
    """Thumbnails with captions; double-click opens the image, the context menu shows it in
    its folder."""

    def __init__(self) -> None:
        super().__init__()
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setIconSize(QSize(72, 72))
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setWordWrap(True)
        self.setGridSize(QSize(150, 120))
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.itemDoubleClicked.connect(self._open)
        self.items: dict[str, QListWidgetItem] = {}

    def clear(self) -> None:
        """Remove every item (and forget them: late thumbnails for them are ignored)."""
        super().clear()
        self.items = {}

    def show_rows(self, rows: list[dict], caption: Any) -> list[str]:
        """List ``rows`` (dicts with "path") captioned by ``caption(row)``; returns the paths
        whose thumbnails are still to be set."""
        self.clear()
        for row in rows[:MAX_THUMBS]:
            item = QListWidgetItem(caption(row))
            item.setData(Qt.ItemDataRole.UserRole, row["path"])
            item.setToolTip(row["path"])
            self.addItem(item)
            self.items[row["path"]] = item
        return list(self.items)

    def set_thumbnail(self, path: str, array: Any) -> None:
        """Show the decoded thumbnail of ``path`` (None: unreadable)."""
        item = self.items.get(path)
        if item is not None and array is not None:
            item.setIcon(QIcon(pixmap_from_array(array)))

    def _open(self, item: QListWidgetItem) -> None:
        open_path(item.data(Qt.ItemDataRole.UserRole))

    def _menu(self, pos: Any) -> None:
        item = self.itemAt(pos)
        if item is None:
            return
        path = item.data(Qt.ItemDataRole.UserRole)
        menu = QMenu(self)
        menu.addAction("Open", lambda: open_path(path))
        menu.addAction("Show in folder", lambda: open_path(str(Path(path).parent)))
        menu.exec(self.viewport().mapToGlobal(pos))
