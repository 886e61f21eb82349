"""Evaluation tab: evaluate a folder, the per-class table, a confusion-matrix cell's images,
suspected label errors, robustness, stop, bad folders, and the 'open with' path."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6.QtCore import Qt

from tests.ui.conftest import drop


def _many_images(source: Path, folder: Path, copies: int) -> Path:
    """``source``'s class folders with each photo ``copies`` times (a long evaluation)."""
    for class_dir in source.iterdir():
        (folder / class_dir.name).mkdir(parents=True)
        for photo in class_dir.iterdir():
            for k in range(copies):
                shutil.copy(photo, folder / class_dir.name / f"{photo.stem}_{k}{photo.suffix}")
    return folder


def _load(qtbot, window, model: Path) -> None:  # noqa: ANN001
    window.inference_tab.load_model(str(model))
    qtbot.waitUntil(lambda: window.evaluation_tab.classifier is not None, timeout=60_000)


def test_evaluate_folder_table_matrix_cell_and_errors(
    qtbot, window, sure_model: Path, tiny_data: Path, tmp_path: Path  # noqa: ANN001
) -> None:
    tab = window.evaluation_tab
    assert not tab.browse_button.isEnabled()  # no model yet
    _load(qtbot, window, sure_model)
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    # A flower photo filed under china: the model is sure it is a flower, so it must be listed
    # as a suspected label error.
    shutil.copy(sorted((data / "flower").iterdir())[0], data / "china" / "misfiled.jpg")
    (data / "flower" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    tab.robust_check.setChecked(True)
    assert drop(tab, [data]) == (True, True)
    qtbot.waitUntil(lambda: tab.report is not None and not tab.busy, timeout=120_000)
    rep = tab.report
    assert not window.dialogs and len(rep.paths) == 13
    assert tab.summary.text().startswith(f"Accuracy {rep.accuracy:.1%} on 13 images")
    assert "broken.jpg: not an image" in tab.unusable_label.text()
    # The folder joins the recent folders, offered again by the tab's Recent menu.
    assert [a.text() for a in tab.recent_menu.actions()][0] == str(data)
    assert tab.table.rowCount() == 2
    supports = sorted(int(tab.table.item(r, 4).text()) for r in range(2))
    assert supports == [6, 7]
    assert tab.matrix.rowCount() == 2 and tab.matrix.item(0, 0).text() == \
        str(rep.confusion_matrix[0][0])
    tab.percent_check.setChecked(True)
    assert tab.matrix.item(0, 0).text().endswith("%")

    # Click the fullest cell: its images, most confident first.
    i, j = max(((i, j) for i in range(2) for j in range(2)),
               key=lambda c: rep.confusion_matrix[c[0]][c[1]])
    tab.matrix.cellClicked.emit(i, j)
    n = rep.confusion_matrix[i][j]
    assert tab.cell_images.count() == n and f"{n} '" in tab.cell_label.text()
    probs = [float(tab.cell_images.item(k).text().split("\n")[1].rstrip("%")) for k in range(n)]
    assert probs == sorted(probs, reverse=True)
    qtbot.waitUntil(lambda: not tab.cell_images.item(0).icon().isNull(), timeout=10_000)

    assert tab.error_images.count() == len(rep.suspected_label_errors)
    errors = rep.suspected_label_errors
    assert tab.errors_label.text().startswith(
        f"{len(errors)} image(s) whose folder label disagrees" if errors else "No suspected")
    k = [Path(p).name for p in rep.paths].index("misfiled.jpg")
    flower = rep.classes.index("flower")
    assert rep.probabilities[k, flower] >= 0.5, "the model should know this flower"
    assert "misfiled.jpg" in [Path(r["path"]).name for r in errors]
    shown = [Path(tab.error_images.item(i).data(Qt.ItemDataRole.UserRole)).name
             for i in range(tab.error_images.count())]
    assert shown == [Path(r["path"]).name for r in errors]
    assert "Weakest" in tab.robustness.label.text()
    assert "Temperature" in tab.calibration.label.text()


def test_bad_folder_is_a_message_and_stop_is_not_a_failure(
    qtbot, window, tiny_model: Path, tiny_data: Path, tmp_path: Path  # noqa: ANN001
) -> None:
    tab = window.evaluation_tab
    _load(qtbot, window, tiny_model)
    (tmp_path / "zebra").mkdir()
    tab.evaluate_folder(str(tmp_path))
    qtbot.waitUntil(lambda: bool(window.dialogs), timeout=30_000)
    assert window.dialogs[0][0] == "Cannot evaluate" and "zebra" in window.dialogs[0][1]
    window.dialogs.clear()

    # 600 photos: the stop lands long before the last batch.
    tab.evaluate_folder(str(_many_images(tiny_data, tmp_path / "many", 50)))
    tab.stop()
    qtbot.waitUntil(lambda: not tab.busy, timeout=60_000)
    assert not window.dialogs
    assert tab.summary.text() == "Evaluation stopped." and tab.report is None


def test_open_with_model_and_evaluate(qtbot, window, tiny_model: Path, tiny_data: Path) -> None:  # noqa: ANN001
    window.open_with(model=str(tiny_model), evaluate=str(tiny_data))
    tab = window.evaluation_tab
    qtbot.waitUntil(lambda: tab.report is not None and not tab.busy, timeout=120_000)
    assert window.tabs.currentWidget() is tab
    assert len(tab.report.paths) == 12
    from resnet_gui.cli import _normalise_argv, build_parser

    args = build_parser().parse_args(_normalise_argv(["--model", "m.keras", "--evaluate", "d"]))
    assert (args.command, args.model, args.evaluate) == ("gui", "m.keras", "d")


def test_uncertain_cards_follow_the_minimum_confidence(
    qtbot, window, tiny_model: Path, tiny_data: Path  # noqa: ANN001
) -> None:
    tab = window.inference_tab
    tab.load_model(str(tiny_model))
    qtbot.waitUntil(lambda: tab.classifier is not None, timeout=60_000)
    tab.add_paths([str(tiny_data / "china")])
    qtbot.waitUntil(lambda: len(tab.cards) == 6, timeout=60_000)
    assert not any(c.result["uncertain"] for c in tab.cards)
    tab.min_conf_spin.setValue(99)
    tops = [c.result["predictions"][0]["probability"] for c in tab.cards]
    assert [c.result["uncertain"] for c in tab.cards] == [p < 0.99 for p in tops]
    assert any(c.result["uncertain"] for c in tab.cards)
    assert "true" in [row[-2] for row in tab.results_rows()[1:]]
