"""Start the desktop app: show the window first, then load TensorFlow in the background."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

_T0 = time.perf_counter()


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

    from resnet_gui.ui.main_window import MainWindow, demo_data_dir

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("resnet-gui")
    app.setOrganizationName("resnet-gui")
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
