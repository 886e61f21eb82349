"""The app's model tools: where it looked, sort into folders, export, models made elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from tests.core.test_foreign_models import teachable_like
from tests.ui.conftest import drop


def _load(qtbot, tab, model: Path) -> None:  # noqa: ANN001
    tab.load_model(str(model))
    qtbot.waitUntil(lambda: tab.classifier is not None, timeout=60_000)


def test_show_where_it_looked_and_the_larger_view(
    qtbot, window, tiny_model: Path, tiny_data: Path  # noqa: ANN001
) -> None:
    tab = window.inference_tab
    assert not tab.explain_box.isEnabled()
    _load(qtbot, tab, tiny_model)
    tab.add_paths([str(tiny_data / "china")])
    qtbot.waitUntil(lambda: len(tab.cards) == 6, timeout=60_000)
    plain = [c.thumb.pixmap().toImage() for c in tab.cards]
    tab.explain_box.setChecked(True)
    qtbot.waitUntil(lambda: all(c.showing_overlay for c in tab.cards), timeout=60_000)
    for card, before in zip(tab.cards, plain, strict=True):
        assert card.overlay.shape == card.result["thumbnail"].shape
        assert card.thumb.pixmap().toImage() != before  # the overlay is what is shown
    # Cards added while the toggle is on get their overlay too.
    tab.add_paths([str(sorted((tiny_data / "flower").iterdir())[0])])
    qtbot.waitUntil(lambda: len(tab.cards) == 7 and tab.cards[-1].showing_overlay,
                    timeout=60_000)
    tab.explain_box.setChecked(False)
    assert not any(c.showing_overlay for c in tab.cards)
    assert tab.cards[0].thumb.pixmap().toImage() == plain[0]

    card = tab.cards[0]
    qtbot.mouseDClick(card, Qt.MouseButton.LeftButton, pos=QPoint(20, 20))
    view = next(w for w in QApplication.topLevelWidgets()
                if w.windowTitle().startswith("Where the model looked"))
    qtbot.waitUntil(lambda: view.heat is not None, timeout=60_000)
    assert view.heat.shape == view.photo.shape[:2] and view.heat.max() == 1.0
    first = view.image.pixmap().toImage()
    view.slider.setValue(0)  # no overlay: the photo itself
    assert view.image.pixmap().toImage() != first
    view.close()


def test_sort_dialog_copies_into_class_folders(
    qtbot, window, tiny_model: Path, tiny_data: Path, tmp_path: Path  # noqa: ANN001
) -> None:
    tab = window.inference_tab
    _load(qtbot, tab, tiny_model)
    dialog = tab.sort_dialog()
    dialog.source_edit.setText(str(tiny_data))
    dialog.out_edit.setText(str(tmp_path / "sorted"))
    dialog.start()
    qtbot.waitUntil(lambda: dialog.report is not None and dialog.worker is None, timeout=60_000)
    assert dialog.report.sorted_count == 12
    assert "Copied 12 file(s)" in dialog.summary.text()
    assert dialog.progress.value() == dialog.progress.maximum() == 12
    copied = [p for p in (tmp_path / "sorted").rglob("*.jpg")]
    assert len(copied) == 12 and {p.parent.name for p in copied} <= {"china", "flower"}
    assert len(list(tiny_data.rglob("*.jpg"))) == 12  # copy mode: sources stay


def test_export_dialog_exports_and_checks(
    qtbot, window, tiny_model: Path, tiny_data: Path, tmp_path: Path  # noqa: ANN001
) -> None:
    assert not window.export_model_action.isEnabled()
    _load(qtbot, window.inference_tab, tiny_model)
    assert window.export_model_action.isEnabled()
    dialog = window.export_model_dialog()
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("onnx"))
    assert dialog.out_edit.text().endswith("tiny.onnx")
    assert not dialog.int8_box.isEnabled()
    dialog.out_edit.setText(str(tmp_path / "m.tflite"))
    dialog.start()  # a wrong suffix is refused at once, before any work
    assert "ending in .onnx" in dialog.status.text() and dialog.worker is None
    dialog.out_edit.setText(str(tmp_path / "m.onnx"))
    dialog.check_edit.setText(str(tiny_data))
    dialog.start()
    qtbot.waitUntil(lambda: dialog.result is not None and dialog.worker is None, timeout=120_000)
    assert "agreement 1.000 (top-1, 12 images)" in dialog.status.text()
    card = json.loads((tmp_path / "model_card.json").read_text())
    assert card["format"] == "onnx" and card["check"]["passed"] is True


def test_model_made_elsewhere_asks_for_its_input_scale(
    qtbot, window, tmp_path: Path, monkeypatch  # noqa: ANN001
) -> None:
    tab = window.inference_tab
    path = teachable_like(tmp_path / "plain")
    (tmp_path / "plain" / "labels.txt").unlink()
    asked: list[str] = []
    monkeypatch.setattr(tab, "ask_input_scale", lambda p, m: asked.append(m) or "0-1")
    assert drop(tab, [path]) == (True, True)  # .h5 files are models too
    qtbot.waitUntil(lambda: tab.classifier is not None, timeout=60_000)
    assert asked and "does not say how its input pixels are scaled" in asked[0]
    assert tab.classifier.input_scale == "0-1"
    assert tab.classifier.class_names == ["class_0", "class_1"]
    assert "assumed: class names unknown" in tab.model_info.text()
    img = np.asarray(tab.classifier.predict_arrays([np.zeros((48, 48, 3), np.uint8)]))
    assert img.shape == (1, 2)
