"""Regenerate the README screenshots from the real window (run under Xvfb).

    xvfb-run -s "-screen 0 1400x900x24" .venv/bin/python scripts/screenshots.py

Trains on the bundled demo data, grabs the Training tab mid-run (a visible curve) and at the
end, classifies the held-back demo images and grabs the Inference tab, then evaluates the model
on the held-back demo photos (with robustness), clicks the fullest off-diagonal cell of the
confusion matrix and grabs the Evaluation tab.
Writes docs/screenshots/{training,training_done,inference,evaluation,evaluation_errors,
evaluation_robustness,help}.png.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from resnet_gui.core.base.assets import demo_photos_dir

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


def write_held_back(root: Path, per_class: int = 30) -> Path:
    """Digits the demo never used (scikit-learn's, made as scripts/make_demo_data.py makes
    them), one folder per class, with three 3s filed under "eight" on purpose: the Evaluation
    tab's suspected label errors should find them."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    digits = load_digits()
    for name in names:
        (root / name).mkdir(parents=True, exist_ok=True)
    for c, name in enumerate(names):
        for k, i in enumerate(np.flatnonzero(digits.target == c)[40 : 40 + per_class]):
            img = (digits.images[i] * (255 / 16)).astype(np.uint8)
            folder = "eight" if (name == "three" and k < 3) else name
            Image.fromarray(img).resize((32, 32), Image.Resampling.BILINEAR).save(
                root / folder / f"{name}_{i:04d}.png"
            )
    return root


def main() -> int:
    from resnet_gui.core.base.assets import demo_data_dir
    from resnet_gui.ui.main_window import MainWindow

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
    photos = sorted(demo_photos_dir().iterdir())
    inf.min_conf_spin.setValue(60)  # show what an uncertain card looks like
    inf.add_paths([str(p) for p in photos[:8]])
    assert wait(app, lambda: len(inf.cards) >= 8, 120), "predictions did not arrive"
    app.processEvents()
    window.grab().save(str(OUT / "inference.png"))
    correct = sum(
        1 for c in inf.cards if c.top_label and Path(c.result["path"]).name.startswith(c.top_label)
    )
    print(f"inference cards: {len(inf.cards)}, top-1 correct: {correct}")
    print(f"validation accuracy: {tab.result.val_accuracy}, training {tab.result.seconds:.0f} s")
    print(f"epochs on the plot: {tab.plot.point_counts()[1]}, x range: {tab.plot.x_range()}")

    ev = window.evaluation_tab
    window.tabs.setCurrentWidget(ev)
    ev.robust_check.setChecked(True)
    held_back = write_held_back(Path(tempfile.mkdtemp()) / "held_back")
    ev.evaluate_folder(str(held_back))
    assert wait(app, lambda: ev.report is not None and not ev.busy, 300), "evaluation failed"
    rep = ev.report
    off = [(rep.confusion_matrix[i][j], i, j) for i in range(len(rep.classes))
           for j in range(len(rep.classes)) if i != j and rep.confusion_matrix[i][j]]
    if off:
        _, i, j = max(off)
        ev.matrix.setCurrentCell(i, j)
        ev.show_cell(i, j)
    wait(app, lambda: False, 2)  # thumbnails
    window.grab().save(str(OUT / "evaluation.png"))
    ev.details.setCurrentIndex(1)
    wait(app, lambda: False, 2)  # thumbnails
    window.grab().save(str(OUT / "evaluation_errors.png"))
    ev.details.setCurrentIndex(3)
    app.processEvents()
    window.grab().save(str(OUT / "evaluation_robustness.png"))
    print(f"evaluation: accuracy {rep.accuracy:.3f}, robustness {rep.robustness}, "
          f"calibration {rep.calibration}")
    # Where the model looked: overlays on the inference cards, then the larger view.
    window.tabs.setCurrentWidget(inf)
    inf.explain_box.setChecked(True)
    assert wait(app, lambda: all(c.showing_overlay for c in inf.cards if c.top_label), 120)
    app.processEvents()
    window.grab().save(str(OUT / "explain.png"))
    inf.show_explanation(inf.cards[0].result["path"])
    view = next(w for w in app.topLevelWidgets() if w.windowTitle().startswith("Where the"))
    view.resize(520, 600)
    assert wait(app, lambda: view.heat is not None, 60), "the larger view did not fill"
    app.processEvents()
    view.grab().save(str(OUT / "explain_view.png"))
    view.close()
    # Export with a check, in the dialog.
    export = window.export_model_dialog()
    export.format_combo.setCurrentIndex(export.format_combo.findData("onnx"))
    export.out_edit.setText(str(Path(tempfile.mkdtemp()) / "digits.onnx"))
    export.check_edit.setText(str(held_back))
    export.start()
    assert wait(app, lambda: export.result is not None and export.worker is None, 300)
    app.processEvents()
    export.grab().save(str(OUT / "export.png"))
    print(f"export: {export.status.text()}")
    export.close()

    from resnet_gui.ui.resnet_help import ResNetHelpDialog

    dialog = ResNetHelpDialog(window)
    dialog.show()
    app.processEvents()
    dialog.grab().save(str(OUT / "help.png"))
    dialog.close()
    # Training > Run on a server…, for several machines.
    window.show_server_dialog()
    server = window.server_dialog
    server.data_edit.setText("/data/digits")
    server.where.setCurrentIndex(server.where.findData("multiworker"))
    server.hosts_edit.setText("gpu1:12345, gpu2:12345")
    server.resize(760, 420)
    app.processEvents()
    server.grab().save(str(OUT / "run_on_server.png"))
    server.close()
    window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
