"""Drag-and-drop helpers: accept file URLs only, hand them on as paths."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMimeData


def paths_from_mime(mime: QMimeData) -> list[Path]:
    """Local file paths carried by a drag or a paste (empty when there are none)."""
    if not mime.hasUrls():
        return []
    return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
