"""A list of image thumbnails with captions: double-click opens an image in the system's
viewer, the context menu opens it or shows it in its folder; with :meth:`ImageList.allow_edits`
the menu and the keys also fix labels (see ``resnet_gui.ui.data_edits``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QIcon
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QMenu

from resnet_gui.ui.widgets.prediction_card import pixmap_from_array

#: Thumbnails shown for one list at most (the caller says how many there are in all).
MAX_THUMBS = 200


def same_file(path: str) -> str:
    """One spelling per file (``~`` expanded, symbolic links followed): the key to compare
    paths that the core (which resolves them) and a view (which shows them as given) hold."""
    return os.path.realpath(os.path.expanduser(path))


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
        self.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.items: dict[str, QListWidgetItem] = {}
        self.edits: Any = None  # a DataEdits, with allow_edits
        self.edit_root: Callable[[], str] = lambda: ""
        self.edit_inside = True
        self.edit_move: Callable[[], bool] = lambda: False

    def allow_edits(self, edits: Any, root: Callable[[], str], *, inside: bool = True,
                    move: Callable[[], bool] = lambda: False) -> None:
        """Offer data set edits (``edits``, a DataEdits) for the images shown: in the data set
        ``root()`` (``inside``: move and remove) or from elsewhere (added as copies, or moved
        while ``move()`` is True)."""
        self.edits, self.edit_root, self.edit_inside = edits, root, inside
        self.edit_move = move

    def selected_paths(self) -> list[str]:
        """The selected images' paths, in list order."""
        return [self.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.count())
                if self.item(i).isSelected()]

    def remove_paths(self, paths: list[str]) -> int:
        """Take the items of ``paths`` out of the list (a path matches its item however either
        is spelt: symbolic links, ``~``); the item after the last one removed is selected, so
        the keys go on with the next image. Returns how many were shown."""
        gone = {same_file(p) for p in paths}
        rows = [self.row(item) for path, item in list(self.items.items())
                if same_file(path) in gone]
        for path in [p for p in self.items if same_file(p) in gone]:
            self.takeItem(self.row(self.items.pop(path)))
        if rows and self.count():
            self.setCurrentRow(min(min(rows), self.count() - 1))
        return len(rows)

    def keyPressEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        paths = self.selected_paths()
        inside, outside = (paths, []) if self.edit_inside else ([], paths)
        if self.edits is not None and self.edits.handle_key(
                event, self.edit_root(), inside=inside, outside=outside, move=self.edit_move()):
            return
        super().keyPressEvent(event)

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
        menu = self.context_menu(item)
        menu.exec(self.viewport().mapToGlobal(pos))

    def context_menu(self, item: QListWidgetItem) -> QMenu:
        """The menu for ``item`` (and the other selected items, when it is one of them)."""
        path = item.data(Qt.ItemDataRole.UserRole)
        menu = QMenu(self)
        menu.addAction("Open", lambda: open_path(path))
        menu.addAction("Show in folder", lambda: open_path(str(Path(path).parent)))
        if self.edits is not None:
            chosen = self.selected_paths() if item.isSelected() else [path]
            menu.addSeparator()
            self.edits.fill_menu(menu, chosen, self.edit_root(), inside=self.edit_inside,
                                 move=self.edit_move())
        return menu
