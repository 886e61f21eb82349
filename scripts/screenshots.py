"""Regenerate the README screenshots from the real window (run under Xvfb).

    xvfb-run -s "-screen 0 1400x900x24" .venv/bin/python scripts/screenshots.py

Trains on the bundled demo data, grabs the Training tab mid-run (a visible curve) and at the
end, then classifies the held-back demo images and grabs the Inference tab.
Writes docs/screenshots/training.png and docs/screenshots/inference.png.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"


def wait(app: QApplication, predicate, timeout: float) -> bool:  # noqa: ANN001
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        app.processEvents()
        if predicate():
            return True
        time.sleep(0.02)
    return False


def main() -> int:
    from resnet_gui.ui.main_window import MainWindow, demo_data_dir

    OUT.mkdir(parents=True, exist_ok=True)
    app = QApplication(sys.argv[:1])
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "s.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings)
    window.resize(1360, 860)
    window.show()
    window.start_background_loading()
    tab = window.training_tab
    tab.open_folder(str(demo_data_dir()))
    assert wait(app, lambda: tab.report is not None, 60), "scan did not finish"
    assert wait(app, lambda: window.tf_info is not None, 120), "TensorFlow did not load"
    tab.start_training()
    # Mid-run: a few epochs drawn.
    assert wait(app, lambda: tab.plot.point_counts()[1] >= 8 or tab.result is not None, 600)
    tab.plot.flush()
    app.processEvents()
    window.grab().save(str(OUT / "training.png"))
    assert wait(app, lambda: not tab.training, 900), "training did not finish"
    tab.plot.flush()
    app.processEvents()
    window.grab().save(str(OUT / "training_done.png"))
    tab.use_model()
    inf = window.inference_tab
    photos = sorted((ROOT / "assets" / "demo_photos").iterdir())
    inf.add_paths([str(p) for p in photos[:8]])
    assert wait(app, lambda: len(inf.cards) >= 8, 120), "predictions did not arrive"
    app.processEvents()
    window.grab().save(str(OUT / "inference.png"))
    correct = sum(
        1 for c in inf.cards if c.top_label and Path(c.result["path"]).name.startswith(c.top_label)
    )
    print(f"inference cards: {len(inf.cards)}, top-1 correct: {correct}")
    print(f"validation accuracy: {tab.result.val_accuracy}")
    from resnet_gui.ui.resnet_help import ResNetHelpDialog

    dialog = ResNetHelpDialog(window)
    dialog.show()
    app.processEvents()
    dialog.grab().save(str(OUT / "help.png"))
    dialog.close()
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
