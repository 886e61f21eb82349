"""Fixing labels and growing the data set from inside the app: the evaluation thumbnails' menu
and keys, Edit > Undo (also after a restart, and after a crash in the middle of a move), the
inference cards' "Add to the training data as", and the Review tab."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMenu

from resnet_gui.core.data.edits import JOURNAL


def _load(qtbot, window, model: Path) -> None:  # noqa: ANN001
    window.inference_tab.load_model(str(model))
    qtbot.waitUntil(lambda: window.review_tab.classifier is not None, timeout=60_000)


def _open_data(qtbot, window, data: Path) -> None:  # noqa: ANN001
    window.training_tab.open_folder(str(data))
    qtbot.waitUntil(lambda: window.training_tab.report is not None, timeout=30_000)


def _submenu(menu: QMenu, title: str) -> QMenu:
    found = [a.menu() for a in menu.actions() if a.menu() is not None and a.text() == title]
    assert found, f"no submenu {title!r} in {[a.text() for a in menu.actions()]}"
    return found[0]


def _action(menu: QMenu, text: str):  # noqa: ANN202
    found = [a for a in menu.actions() if a.text().replace("&", "") == text]
    assert found, f"no action {text!r} in {[a.text() for a in menu.actions()]}"
    return found[0]


def _select(images, name: str) -> None:  # noqa: ANN001
    images.clearSelection()
    for i in range(images.count()):
        if Path(images.item(i).data(Qt.ItemDataRole.UserRole)).name == name:
            images.item(i).setSelected(True)
            images.setCurrentItem(images.item(i))
            return
    raise AssertionError(f"{name} is not listed")


def _counts(qtbot, window, want: dict[str, int]) -> None:  # noqa: ANN001
    """The training tab's scan follows the data set, and has ended (its buttons are back: the
    report can show the new counts while the scan's worker is still finishing)."""
    tab = window.training_tab
    qtbot.waitUntil(lambda: tab.report is not None and tab.report.counts == want
                    and tab.scan_worker is None, timeout=30_000)


def test_fix_labels_from_the_evaluation_then_undo_after_a_restart_and_a_crash(
    qtbot, window, sure_model: Path, tiny_data: Path, tmp_path: Path,  # noqa: ANN001
    settings: QSettings,
) -> None:
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    shutil.copy(sorted((data / "flower").iterdir())[0], data / "china" / "misfiled.jpg")
    _load(qtbot, window, sure_model)
    _open_data(qtbot, window, data)
    tab = window.evaluation_tab
    tab.evaluate_folder(str(data))
    qtbot.waitUntil(lambda: tab.report is not None and not tab.busy, timeout=120_000)
    assert "misfiled.jpg" in [Path(r["path"]).name for r in tab.report.suspected_label_errors]

    # The suspect's right-click menu: Move to class > flower.
    _select(tab.error_images, "misfiled.jpg")
    menu = tab.error_images.context_menu(tab.error_images.currentItem())
    _action(_submenu(menu, "Move to class"), "2 flower").trigger()
    assert (data / "flower" / "misfiled.jpg").is_file()
    assert not (data / "china" / "misfiled.jpg").exists()
    assert "misfiled.jpg" not in [Path(p).name for p in tab.error_images.items]
    assert "1 label changed since this evaluation" in tab.summary.text()
    _counts(qtbot, window, {"china": 6, "flower": 7})

    # Keys on the "All images" page: 2 files into the second class, Delete removes.
    china = sorted(p.name for p in (data / "china").iterdir())
    all_images = tab.all_images
    _select(all_images, china[0])
    qtbot.keyClick(all_images, Qt.Key.Key_2)
    assert (data / "flower" / china[0]).is_file()
    _select(all_images, china[1])
    qtbot.keyClick(all_images, Qt.Key.Key_Delete)
    assert (data / "_removed" / "china" / china[1]).is_file()
    assert "3 labels changed" in tab.summary.text()
    _counts(qtbot, window, {"china": 4, "flower": 8})
    qtbot.keyClick(all_images, Qt.Key.Key_3)  # two classes: nothing moves, the status says why
    assert window.statusBar().currentMessage() == "data has 2 classes: no class 3"

    # Edit > Undo (Ctrl+Z): the removal is reversed, and the image is listed again.
    window.menuBar().actions()[1].menu().aboutToShow.emit()
    assert window.undo_action.text() == "Undo remove 1 image"
    window.undo_action.trigger()
    assert (data / "china" / china[1]).is_file() and not (data / "_removed" / "china" /
                                                          china[1]).exists()
    assert china[1] in [Path(p).name for p in all_images.items]
    assert "2 labels changed" in tab.summary.text()

    # A restart: a new window undoes the move made by the key "2" (the journal remembers).
    again = type(window)(settings=QSettings(settings.fileName(), QSettings.Format.IniFormat))
    qtbot.addWidget(again)
    _open_data(qtbot, again, data)
    again.undo_action.trigger()
    assert (data / "china" / china[0]).is_file() and not (data / "flower" / china[0]).exists()

    # A crash in the middle of a move: the file got its new name, the old one was not yet
    # removed, no "done" in the journal. The next start finishes it (each file in one place),
    # and Undo then reverses it.
    src, dst = data / "china" / china[2], data / "flower" / china[2]
    os.link(src, dst)
    with (data / JOURNAL).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"op": "begin", "id": 99, "kind": "move", "target": "flower",
                             "files": [[str(src), str(dst)]], "undoes": None}) + "\n")
    third = type(window)(settings=QSettings(settings.fileName(), QSettings.Format.IniFormat))
    qtbot.addWidget(third)
    _open_data(qtbot, third, data)
    assert not src.exists() and dst.is_file()  # finished before the scan
    assert third.training_tab.report.counts == {"china": 5, "flower": 8}
    third.menuBar().actions()[1].menu().aboutToShow.emit()
    assert third.undo_action.text() == "Undo move 1 image to 'flower'"
    third.undo_action.trigger()
    assert src.is_file() and not dst.exists()
    for w in (again, third):
        w.pool.stop_all(timeout_s=60)


def test_add_a_photo_from_the_inference_tab_and_a_read_only_data_set(
    qtbot, window, sure_model: Path, tiny_data: Path, tmp_path: Path,  # noqa: ANN001
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    outside = tmp_path / "new photo.jpg"
    shutil.copy(sorted((tiny_data / "flower").iterdir())[1], outside)
    _load(qtbot, window, sure_model)
    tab = window.inference_tab
    tab.add_paths([str(outside)])
    qtbot.waitUntil(lambda: len(tab.cards) == 1, timeout=60_000)
    menu = tab.card_menu(str(outside))
    assert any("open a data set first" in a.text() for a in menu.actions())
    _open_data(qtbot, window, data)
    menu = tab.card_menu(str(outside))
    _action(_submenu(menu, "Add to the training data as"), "2 flower").trigger()
    assert (data / "flower" / outside.name).is_file() and outside.is_file()  # a copy
    _counts(qtbot, window, {"china": 6, "flower": 7})
    # The card now stands for its copy: the key "1" moves that copy to the first class
    # (no second copy), and two undos take it back, then away.
    qtbot.keyClick(tab.cards[0], Qt.Key.Key_1)
    assert (data / "china" / outside.name).is_file()
    assert not (data / "flower" / outside.name).exists()
    window.undo_action.trigger()
    assert (data / "flower" / outside.name).is_file()
    window.undo_action.trigger()
    assert not (data / "flower" / outside.name).exists() and outside.is_file()
    assert tab.cards[0].result["path"] == str(outside)

    # A data set that cannot be written: a message, nothing touched.
    locked = tmp_path / "locked"
    shutil.copytree(tiny_data, locked)

    def refused(folder: Path) -> None:
        raise PermissionError(13, "Permission denied", str(folder))

    monkeypatch.setattr("resnet_gui.core.data.edits.try_writing_in", refused)
    before = sorted(p.name for p in locked.rglob("*"))
    assert window.edits.add([str(outside)], str(locked), "flower") is None
    assert window.dialogs[-1][0] == "Cannot change this data set"
    assert "Permission denied" in window.dialogs[-1][1] and "nothing was moved" in \
        window.dialogs[-1][1]
    assert sorted(p.name for p in locked.rglob("*")) == before


def test_a_multi_selection_of_cards_is_filed_together(
    qtbot, window, sure_model: Path, tiny_data: Path, tmp_path: Path,  # noqa: ANN001
) -> None:
    """Ctrl+click, Shift+click and Ctrl+A select cards; the menu and the keys of a selected
    card act on them all (one undo step, also for a mixed selection); a click on another card
    selects it alone; keys on a card just Ctrl+clicked out of the selection act on the rest."""
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    new = tmp_path / "new"
    new.mkdir()
    photos = []
    for i, source in enumerate(sorted((tiny_data / "flower").iterdir())[:4]):
        photos.append(new / f"photo{i}.jpg")
        shutil.copy(source, photos[-1])
    _load(qtbot, window, sure_model)
    _open_data(qtbot, window, data)
    tab = window.inference_tab
    tab.add_paths([str(p) for p in photos])
    qtbot.waitUntil(lambda: len(tab.cards) == 4, timeout=60_000)
    cards = tab.cards
    ctrl, shift = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier
    qtbot.mouseClick(cards[0], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(cards[2], Qt.MouseButton.LeftButton, ctrl)
    assert [c.selected for c in cards] == [True, False, True, False]
    menu = tab.card_menu(str(photos[2]))
    assert menu.actions()[0].text() == "2 photos selected"
    qtbot.keyClick(cards[2], Qt.Key.Key_2)  # both into "flower", as one action
    assert sorted(p.name for p in (data / "flower").glob("photo*")) == ["photo0.jpg",
                                                                        "photo2.jpg"]
    window.menuBar().actions()[1].menu().aboutToShow.emit()
    assert window.undo_action.text() == "Undo add 2 images to 'flower'"
    _counts(qtbot, window, {"china": 6, "flower": 8})
    # The two cards now stand for their copies in the data set: Delete removes both.
    qtbot.keyClick(cards[0], Qt.Key.Key_Delete)
    assert not list((data / "flower").glob("photo*"))
    assert len(list((data / "_removed").rglob("photo*"))) == 2
    window.undo_action.trigger()
    # Shift+click selects a range; a click on another card selects that one alone.
    qtbot.mouseClick(cards[1], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(cards[3], Qt.MouseButton.LeftButton, shift)
    assert [c.selected for c in cards] == [False, True, True, True]
    qtbot.mouseClick(cards[0], Qt.MouseButton.LeftButton)
    assert [c.selected for c in cards] == [True, False, False, False]
    qtbot.keyClick(cards[0], Qt.Key.Key_1)  # only photo0 moves (from flower to china)
    assert (data / "china" / "photo0.jpg").is_file()
    assert (data / "flower" / "photo2.jpg").is_file()
    assert not (data / "china" / "photo1.jpg").exists()
    # Ctrl+A, then Ctrl+click takes photo0 out of the selection; its card keeps the focus, and
    # the keys act on the selection, as in a file manager. A mixed selection: photo2 is in the
    # data set (it moves), photo1 and photo3 are not (they are added).
    qtbot.keyClick(cards[1], Qt.Key.Key_A, ctrl)
    assert all(c.selected for c in cards)
    qtbot.mouseClick(cards[0], Qt.MouseButton.LeftButton, ctrl)
    assert [c.selected for c in cards] == [False, True, True, True]
    menu = tab.card_menu(str(photos[1]))
    assert menu.actions()[0].text() == "3 photos selected: 1 in the data set, 2 from elsewhere"
    assert _submenu(menu, "Move to class") and _submenu(menu, "Add to the training data as")
    qtbot.keyClick(cards[0], Qt.Key.Key_1)
    assert sorted(p.name for p in (data / "china").glob("photo*")) == [
        "photo0.jpg", "photo1.jpg", "photo2.jpg", "photo3.jpg"]
    assert photos[1].is_file() and not list((data / "flower").glob("photo*"))
    # One key, one action: one undo takes the move and both copies back.
    window.menuBar().actions()[1].menu().aboutToShow.emit()
    assert window.undo_action.text() == "Undo move 1 image and add 2 images to 'china'"
    window.undo_action.trigger()
    assert (data / "flower" / "photo2.jpg").is_file()
    assert sorted(p.name for p in (data / "china").glob("photo*")) == ["photo0.jpg"]
    assert all(p.is_file() for p in photos)
    # The menu offers the same single action for the whole mixed selection.
    menu = tab.card_menu(str(photos[1]))
    _action(_submenu(menu, "File all 3 into class"), "1 china").trigger()
    assert len(list((data / "china").glob("photo*"))) == 4
    window.menuBar().actions()[1].menu().aboutToShow.emit()
    assert window.undo_action.text() == "Undo move 1 image and add 2 images to 'china'"
    window.undo_action.trigger()
    assert (data / "flower" / "photo2.jpg").is_file()
    qtbot.keyClick(cards[1], Qt.Key.Key_Escape)
    assert not any(c.selected for c in cards)


def test_review_grid_orders_files_and_undoes(
    qtbot, window, sure_model: Path, tiny_data: Path, tmp_path: Path  # noqa: ANN001
) -> None:
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    unlabelled = tmp_path / "unlabelled"
    unlabelled.mkdir()
    for k, p in enumerate(sorted(tiny_data.rglob("*.jpg"))):
        shutil.copy(p, unlabelled / f"u{k:02d}.jpg")
    (unlabelled / "broken.jpg").write_bytes(b"not an image")
    _load(qtbot, window, sure_model)
    _open_data(qtbot, window, data)
    tab = window.review_tab
    assert [b.text() for b in tab.findChildren(type(tab.stop_button))
            if b.text()[:1].isdigit()] == ["1 china", "2 flower"]
    tab.review_folder(str(unlabelled))
    qtbot.waitUntil(lambda: bool(tab.items) and tab.worker is None, timeout=60_000)
    assert tab.grid.count() == 12 and "1 could not be read (broken.jpg)" in tab.info.text()
    from resnet_gui.core.use.review import review

    core, _ = review(window.review_tab.classifier, [str(unlabelled)], labelled=[str(data)])
    shown = [tab.grid.item(i).data(Qt.ItemDataRole.UserRole) for i in range(12)]
    assert shown == [i.path for i in core]  # the grid is the core's order
    first = tab.items[0]
    assert tab.grid.selected_paths() == [first.path]  # the most useful one, selected
    qtbot.keyClick(tab.grid, Qt.Key.Key_Return)  # Enter: its predicted class
    filed = data / first.predicted / Path(first.path).name
    assert filed.is_file() and Path(first.path).is_file()  # copied
    assert tab.grid.count() == 11 and first.path not in tab.grid.items
    window.undo_action.trigger()
    assert not filed.exists() and tab.grid.count() == 12
    # Moving instead of copying, with a class button.
    tab.move_check.setChecked(True)
    _select(tab.grid, Path(tab.items[1].path).name)
    [b for b in tab.findChildren(type(tab.stop_button)) if b.text() == "1 china"][0].click()
    assert (data / "china" / Path(tab.items[1].path).name).is_file()
    assert not Path(tab.items[1].path).exists()
    assert tab.items[1].path not in tab.grid.items and tab.grid.count() == 11
    assert tab.grid.selected_paths() == [tab.items[2].path]  # the next photo, for the keys
    window.undo_action.trigger()
    assert Path(tab.items[1].path).is_file() and tab.grid.count() == 12


@pytest.mark.slow
def test_train_again_continues_from_the_model_and_shows_before_and_after(
    qtbot, window, sure_model: Path, tiny_data: Path, tmp_path: Path  # noqa: ANN001
) -> None:
    data, heldout = tmp_path / "data", tmp_path / "heldout"
    shutil.copytree(tiny_data, data)
    shutil.copytree(tiny_data, heldout)
    misfiled = sorted((data / "flower").iterdir())[0]
    shutil.move(misfiled, data / "china" / misfiled.name)
    _load(qtbot, window, sure_model)
    _open_data(qtbot, window, data)
    ev = window.evaluation_tab
    ev.evaluate_folder(str(heldout))
    qtbot.waitUntil(lambda: ev.report is not None and not ev.busy, timeout=60_000)
    before = ev.report.accuracy
    window.edits.move([str(data / "china" / misfiled.name)], str(data), "flower")  # the fix
    _counts(qtbot, window, {"china": 6, "flower": 6})
    tab = window.training_tab
    tab.form.batch_spin.setValue(4)
    tab.form.epochs_spin.setValue(2)
    tab.again_button.click()
    assert tab.training
    qtbot.waitUntil(lambda: not tab.training, timeout=180_000)
    assert "continuing from sure.keras: same classes" in tab.log.toPlainText()
    qtbot.waitUntil(lambda: ev.report is not None and not ev.busy, timeout=60_000)
    assert window.tabs.currentWidget() is ev and not window.dialogs
    assert ev.evaluated == str(heldout)
    assert (f"Before Train again: {before:.1%} on 12 images → after: {ev.report.accuracy:.1%} "
            "on 12") in ev.summary.text()
