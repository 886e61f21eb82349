"""Qt fixtures: a window with its own settings file, joined workers at teardown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget


@pytest.fixture(autouse=True, scope="module")
def _garbage_collected_in_the_gui_thread(qapp) -> Iterator[None]:  # noqa: ANN001
    """As in the app (``run_app``): Python's garbage collector runs only in the GUI thread while
    a module's tests and their workers may run; torn down after the last test's widgets are
    closed. Once a module, not once a test: the full collection at the end takes 0.23 s with
    TensorFlow loaded."""
    from resnet_gui.ui.workers import collect_garbage_in_gui_thread

    stop = collect_garbage_in_gui_thread()
    yield
    stop()


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, settings: QSettings, monkeypatch: pytest.MonkeyPatch) -> Iterator:  # noqa: ANN001
    from resnet_gui.ui.main_window import MainWindow

    # Dialogs would block a test: record them instead.
    shown: list[tuple[str, str]] = []
    for name in ("warning", "critical", "information"):
        monkeypatch.setattr(
            QMessageBox, name, lambda parent, title, text, *a, _n=name, **k: shown.append((title, text))
        )
    w = MainWindow(settings=settings)
    w.dialogs = shown
    qtbot.addWidget(w)
    w.show()
    yield w
    w.pool.stop_all(timeout_s=120)


def drop(widget: QWidget, paths: list[Path]) -> tuple[bool, bool]:
    """Send a synthetic drag-enter and drop carrying file URLs; returns (entered, dropped)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(
        QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, enter)
    accepted = enter.isAccepted()
    if not accepted:
        return False, False
    event = QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, event)
    return True, event.isAccepted()
