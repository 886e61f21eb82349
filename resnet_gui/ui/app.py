"""Start the desktop app: show the window first, then load TensorFlow in the background."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtGui import QIcon

_T0 = time.perf_counter()


def app_icon() -> QIcon:
    """The app's icon, from its PNG sizes (no SVG plug-in needed)."""
    from PySide6.QtGui import QIcon

    from resnet_gui.core.base.assets import ICON_SIZES, icon_file

    icon = QIcon()
    for size in ICON_SIZES:
        if icon_file(size).is_file():
            icon.addFile(str(icon_file(size)))
    return icon


def run_app(
    data: str | None = None,
    model: str | None = None,
    images: Sequence[str] | None = None,
    demo: bool = False,
    evaluate: str | None = None,
) -> int:
    """Create the QApplication and the main window; returns the exit status."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from resnet_gui.core.base.assets import APP_ID, demo_data_dir
    from resnet_gui.ui.main_window import MainWindow
    from resnet_gui.ui.workers import collect_garbage_in_gui_thread

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("resnet-gui")
    app.setOrganizationName("resnet-gui")
    app.setDesktopFileName(APP_ID)  # matches the menu entry (--install-desktop-entry)
    app.setWindowIcon(app_icon())
    stop_gc = collect_garbage_in_gui_thread()  # noqa: F841 - kept while the app runs
    window = MainWindow()
    if demo:
        data = str(demo_data_dir())
    window.show()
    shown = time.perf_counter() - _T0
    if os.environ.get("RESNET_GUI_REPORT_STARTUP"):
        print(f"window shown after {shown:.3f} s", flush=True)
    window.show_status(f"Ready ({shown:.1f} s)")
    if os.environ.get("RESNET_GUI_EXIT_AFTER_SHOW"):  # start-up benchmark
        QTimer.singleShot(0, app.quit)
        return int(app.exec())

    def after_show() -> None:
        window.start_background_loading()
        window.open_with(data=data, model=model, images=list(images or []), evaluate=evaluate)

    QTimer.singleShot(0, after_show)
    return int(app.exec())


def selftest_window(_: object = None) -> str:
    """``--selftest``'s last step: draw the main window offscreen, with its icon."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a check, not a window for the user
    from PySide6.QtCore import qVersion
    from PySide6.QtWidgets import QApplication

    from resnet_gui.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    icon = app_icon()
    if icon.isNull():
        raise RuntimeError("the app icon did not load")
    window = MainWindow()
    window.setWindowIcon(icon)
    window.show()
    app.processEvents()
    shot = window.grab()
    window.hide()
    window.deleteLater()
    app.processEvents()
    if shot.isNull() or shot.width() < 100:
        raise RuntimeError("the window drew nothing")
    return f"the main window drew at {shot.width()}x{shot.height()} px (Qt {qVersion()})"
