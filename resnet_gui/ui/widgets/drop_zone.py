"""Drag-and-drop helpers: accept file URLs only, hand them on as paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData


def paths_from_mime(mime: QMimeData) -> list[Path]:
    """Local file paths carried by a drag or a paste (empty when there are none)."""
    if not mime.hasUrls():
        return []
    return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]


class FolderDropTarget:
    """Mixin for a QWidget that takes one dropped folder (files are refused) and hands its path
    to ``folder_dropped``. List it before QWidget: ``class Tab(FolderDropTarget, QWidget)``."""

    def folder_dropped(self, path: str) -> None:
        """Called with the dropped folder's path."""
        raise NotImplementedError

    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        """Accept a drag that carries a folder."""
        paths = paths_from_mime(event.mimeData())
        if paths and paths[0].is_dir():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: Any) -> None:  # noqa: N802 - Qt API
        """Hand the dropped folder on."""
        paths = paths_from_mime(event.mimeData())
        if paths and paths[0].is_dir():
            event.acceptProposedAction()
            self.folder_dropped(str(paths[0]))
