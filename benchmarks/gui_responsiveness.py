"""GUI responsiveness during a real training run in the worker thread.

A 10 ms QTimer in the GUI thread records the gaps between its ticks while the Training tab
trains on the bundled demo data (after TensorFlow has loaded). A gap much longer than 10 ms is
a stall: the event loop could not run (GIL held by the worker, a flood of signals, slow redraws).
Targets: p99 gap <= 30 ms, max stall <= 100 ms. The last line is `p99_ms=… max_ms=…`.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/gui_responsiveness.py [--epochs 6]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--data", default=None, help="dataset folder (default: the demo data)")
    args = ap.parse_args()

    from PySide6.QtCore import QElapsedTimer, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from resnet_gui.core.base.assets import demo_data_dir
    from resnet_gui.ui.main_window import MainWindow

    app = QApplication(sys.argv[:1])
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings)
    window.show()
    window.start_background_loading()

    def spin(until, timeout: float) -> None:  # noqa: ANN001
        end = time.monotonic() + timeout
        while not until() and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.005)

    spin(lambda: window.tf_info is not None, 120)
    tab = window.training_tab
    tab.open_folder(args.data or str(demo_data_dir()))
    spin(lambda: tab.report is not None, 60)
    tab.form.epochs_spin.setValue(args.epochs)

    gaps: list[float] = []
    clock = QElapsedTimer()
    timer = QTimer()
    timer.setInterval(10)

    def tick() -> None:
        gaps.append(clock.nsecsElapsed() / 1e6)
        clock.restart()

    timer.timeout.connect(tick)
    clock.start()
    timer.start()
    t0 = time.perf_counter()
    tab.start_training()
    while tab.training:
        app.processEvents()
        time.sleep(0.001)
        if time.perf_counter() - t0 > 1800:
            break
    timer.stop()
    seconds = time.perf_counter() - t0
    g = np.array(gaps[1:])
    print(f"device: {window.tf_info['device']}; training {seconds:.1f} s, {len(g)} ticks, "
          f"validation accuracy {tab.result.val_accuracy if tab.result else None}")
    print(f"gap ms: median {np.median(g):.1f}, p95 {np.percentile(g, 95):.1f}, "
          f"p99 {np.percentile(g, 99):.1f}, max {g.max():.1f}; "
          f"gaps > 50 ms: {(g > 50).sum()}, > 100 ms: {(g > 100).sum()}")
    window.close()
    print(f"p99_ms={np.percentile(g, 99):.1f} max_ms={g.max():.1f}")


if __name__ == "__main__":
    main()
