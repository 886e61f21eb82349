"""Fixing labels and growing a data set in place (core/data/edits.py): nothing lost, undo
across restarts, a crash in the middle finished on the next start."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from resnet_gui.core.base.atomic import file_digest
from resnet_gui.core.base.errors import InputError
from resnet_gui.core.data.dataset import scan_dataset
from resnet_gui.core.data.edits import JOURNAL, DataSetEditor
from tests.conftest import write_tiny_classes


def contents(root: Path) -> dict[str, int]:
    """Every image's bytes (by digest) under ``root``, counted: nothing lost, nothing doubled."""
    out: dict[str, int] = {}
    for p in root.rglob("*.jpg"):
        if not p.name.startswith("."):
            out[file_digest(p)] = out.get(file_digest(p), 0) + 1
    return out


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_tiny_classes(tmp_path / "data", n=6, size=32)


def test_move_remove_add_and_undo_after_a_restart(data: Path, tmp_path: Path) -> None:
    before = contents(data)
    china = sorted((data / "china").glob("*.jpg"))
    editor = DataSetEditor(data)
    (data / "flower" / china[0].name).write_bytes(b"taken")  # a clash: gets " (2)"
    moved = editor.move_to_class(china[:2], "flower")
    assert [Path(d).name for _, d in moved.files] == [china[0].stem + " (2).jpg", china[1].name]
    assert (data / "flower" / china[0].name).read_bytes() == b"taken"  # nothing overwritten
    (data / "flower" / china[0].name).unlink()
    new = editor.move_to_class([china[2]], "tiger")  # a new class
    gone = editor.remove([china[3]])
    assert Path(gone.files[0][1]) == data / "_removed" / "china" / china[3].name
    outside = tmp_path / "outside.jpg"
    shutil.copyfile(china[4], outside)
    added = editor.add_copies([outside], "tiger")
    assert outside.exists() and Path(added.files[0][1]).parent == data / "tiger"

    report = scan_dataset(data)
    assert report.classes == ["china", "flower", "tiger"]  # _removed is not a class
    assert report.counts == {"china": 2, "flower": 8, "tiger": 2}
    assert moved.describe() == "move 2 images to 'flower'" and new.target == "tiger"
    assert editor.changed_since(moved.id) == 3

    again = DataSetEditor(data)  # a restart: the journal holds the actions
    assert again.last_undoable().id == added.id
    for _ in range(4):
        assert again.undo() is not None
    assert again.undo() is None
    assert contents(data) == before  # every file back where it was, the copy gone
    assert sorted(p.name for p in (data / "china").glob("*.jpg")) == [p.name for p in china]
    lines = [json.loads(line) for line in (data / JOURNAL).read_text().splitlines()]
    assert [e["op"] for e in lines].count("done") == 8


def test_a_crash_in_the_middle_of_a_move_is_finished_on_the_next_start(data: Path) -> None:
    before = contents(data)
    china = sorted((data / "china").glob("*.jpg"))[:2]
    editor = DataSetEditor(data)
    pairs = [[str(p), str(data / "flower" / p.name)] for p in china]
    editor._write({"op": "begin", "id": 1, "kind": "move", "files": pairs, "target": "flower"})
    os.link(china[0], data / "flower" / china[0].name)  # the crash: after the link, before
    # the old name's removal; the second file not touched at all
    assert contents(data) != before  # one file under two names, for now

    recovered = DataSetEditor(data)
    assert contents(data) == before  # each file whole, in one place
    assert not china[0].exists() and (data / "flower" / china[0].name).exists()
    assert china[1].exists() and not (data / "flower" / china[1].name).exists()
    assert recovered.last_undoable().files == [tuple(pairs[0])]
    recovered.undo()
    assert china[0].exists() and contents(data) == before


def test_bad_names_paths_and_a_folder_that_cannot_be_written(data: Path, tmp_path: Path) -> None:
    editor = DataSetEditor(data)
    photo = sorted((data / "china").glob("*.jpg"))[0]
    for name in ("", "  ", ".hidden", "_removed", "a/b", ".."):
        with pytest.raises(InputError, match="not a usable class name"):
            editor.move_to_class([photo], name)
    with pytest.raises(InputError, match="not an image of the data set"):
        editor.remove([tmp_path / "elsewhere.jpg"])
    assert photo.exists()

    locked = write_tiny_classes(tmp_path / "locked", n=2, size=32)
    (locked / ".resnet-gui").write_text("a file where the journal's folder goes")
    with pytest.raises(InputError, match="cannot change .*nothing was moved"):
        DataSetEditor(locked)


def test_photos_moved_in_from_elsewhere_come_back_on_undo(data: Path, tmp_path: Path) -> None:
    from resnet_gui.core.data.dataset import class_folders

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    photo = inbox / "new.jpg"
    shutil.copyfile(next((data / "china").iterdir()), photo)
    editor = DataSetEditor(data)
    moved = editor.add_copies([photo], "tiger", move=True)
    assert moved.kind == "move" and not photo.exists()
    assert (data / "tiger" / "new.jpg").is_file()
    editor.remove([data / "tiger" / "new.jpg"])
    assert class_folders(data) == ["china", "flower", "tiger"]  # not _removed, not .resnet-gui
    editor.undo()
    editor.undo()
    assert photo.is_file() and not (data / "tiger" / "new.jpg").exists()


def test_a_mixed_selection_is_one_action_undone_in_one_step(data: Path, tmp_path: Path) -> None:
    """Images of the data set move and images from elsewhere are copied into one class, as one
    action: one undo (after a restart) takes all back; a crash in its middle is finished."""
    before = contents(data)
    china = sorted((data / "china").glob("*.jpg"))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    outside = [shutil.copyfile(china[4], inbox / "a.jpg"),
               shutil.copyfile(china[5], inbox / "b.jpg")]
    editor = DataSetEditor(data)
    action = editor.file_into_class(china[:1], outside, "flower")
    assert action.kind == "file" and action.copies == [False, True, True]
    assert action.describe() == "move 1 image and add 2 images to 'flower'"
    assert not china[0].exists() and all(p.is_file() for p in outside)  # originals stay
    assert {"a.jpg", "b.jpg", china[0].name} <= {p.name for p in (data / "flower").iterdir()}

    again = DataSetEditor(data)  # a restart: one undo takes the three back
    assert again.last_undoable().describe() == action.describe()
    again.undo()
    assert again.last_undoable() is None
    assert contents(data) == before and all(p.is_file() for p in outside)

    # One kind alone is a plain move or add.
    assert again.file_into_class([], outside[:1], "flower").kind == "add"
    again.undo()
    # Crashes: a move half done (a link, the old name still there) and a copy made, then a
    # copy never made. The move is finished, the original of the copy is kept.
    for copy_made in (True, False):
        pairs = [[str(china[1]), str(data / "flower" / china[1].name)],
                 [str(outside[0]), str(data / "flower" / "a.jpg")]]
        again._write({"op": "begin", "id": again.last_id + 1, "kind": "file", "files": pairs,
                      "target": "flower", "copies": [False, True]})
        os.link(china[1], data / "flower" / china[1].name)
        if copy_made:
            shutil.copyfile(outside[0], data / "flower" / "a.jpg")
        again = DataSetEditor(data)
        assert not china[1].exists() and outside[0].is_file()
        assert (data / "flower" / "a.jpg").exists() == copy_made
        last = again.last_undoable()
        assert last.copies == ([False, True] if copy_made else [False])
        assert last.describe() == ("move 1 image and add 1 image to 'flower'" if copy_made
                                   else "move 1 image to 'flower'")
        again.undo()
        assert contents(data) == before and outside[0].is_file()
