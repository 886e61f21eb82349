"""Sorting a folder into class folders: nothing lost or overwritten, interrupted runs resume."""

from __future__ import annotations

import csv
import hashlib
import shutil
from pathlib import Path

import pytest

from resnet_gui.cli import main
from resnet_gui.core.use.inference import Classifier
from resnet_gui.core.use.sorting import SORT_FIELDS, sort_into
from tests.core.badfiles import write_bad_and_odd


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def source_tree(tiny_data: Path, root: Path) -> Path:
    """The tiny photos twice (two folders share every file name) plus one broken file."""
    src = root / "inbox"
    shutil.copytree(tiny_data, src / "a")
    shutil.copytree(tiny_data, src / "b")
    broken = write_bad_and_odd(root / "bad")["truncated"]
    shutil.copy(broken, src / "broken.jpg")
    return src


def contents(folder: Path) -> dict[str, int]:
    """sha256 -> how many files under ``folder`` hold it (predictions.csv left out)."""
    out: dict[str, int] = {}
    for p in folder.rglob("*"):
        if p.is_file() and p.name != "predictions.csv":
            out[digest(p)] = out.get(digest(p), 0) + 1
    return out


def read_rows(out: Path) -> list[dict]:
    with (out / "predictions.csv").open(newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == SORT_FIELDS
        return list(reader)


def test_copy_sorts_everything_and_a_rerun_skips(tiny_model: Path, tiny_data: Path,
                                                 tmp_path: Path) -> None:
    src = source_tree(tiny_data, tmp_path)
    before = contents(src)
    clf = Classifier.load(tiny_model)
    out = tmp_path / "sorted"
    report = sort_into(clf, [src], out, min_confidence=0.0)
    assert report.sorted_count == 24 and len(report.unreadable) == 1
    assert contents(src) == before  # a copy leaves the sources alone
    rows = read_rows(out)
    assert len(rows) == 25
    by_status = {r["status"] for r in rows}
    assert by_status == {"copied", "unreadable"}
    for r in rows:
        if r["status"] == "copied":
            new = Path(r["new_path"])
            assert new.parent.name == r["label"] and digest(new) == digest(Path(r["old_path"]))
    # Both copies of each name arrived: one under the name, one with a suffix.
    names = sorted(p.name for p in out.rglob("china_0*"))
    assert names == ["china_0 (2).jpg", "china_0.jpg"]
    assert (src / "broken.jpg").exists()

    again = sort_into(clf, [src], out)
    assert again.sorted_count == 0 and again.already_sorted == 24
    assert len(read_rows(out)) == 26  # only the broken file is recorded again


def test_move_deletes_sources_only_after_a_verified_copy(tiny_model: Path, tiny_data: Path,
                                                         tmp_path: Path) -> None:
    src = source_tree(tiny_data, tmp_path)
    before = contents(src)
    out = tmp_path / "sorted"
    report = sort_into(Classifier.load(tiny_model), [src], out, move=True, min_confidence=0.99)
    assert report.sorted_count == 24
    assert [p.name for p in src.rglob("*") if p.is_file()] == ["broken.jpg"]
    merged = contents(out)
    merged[digest(src / "broken.jpg")] = merged.get(digest(src / "broken.jpg"), 0) + 1
    assert merged == before  # every file, whole, exactly once
    assert set(report.per_folder) == {"_uncertain"}  # an untrained model is never 99% sure


def test_an_interrupted_move_resumes_without_duplicates(
    tiny_model: Path, tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import resnet_gui.core.use.sorting as sorting

    src = source_tree(tiny_data, tmp_path)
    before = contents(src)
    out = tmp_path / "sorted"
    real_copy = sorting._copy_whole
    calls = {"n": 0}

    def crash_after_fifth_copy(source: Path, folder: Path) -> Path:
        calls["n"] += 1
        target = real_copy(source, folder)
        if calls["n"] == 5:
            raise KeyboardInterrupt  # after the copy, before the source is deleted or recorded
        return target

    monkeypatch.setattr(sorting, "_copy_whole", crash_after_fifth_copy)
    clf = Classifier.load(tiny_model)
    with pytest.raises(KeyboardInterrupt):
        sort_into(clf, [src], out, move=True)
    # Nothing lost: every file is in the source or whole in OUT (the fifth in both).
    union = contents(src)
    for h, n in contents(out).items():
        union[h] = union.get(h, 0) + n
    assert set(union) == set(before)
    monkeypatch.setattr(sorting, "_copy_whole", real_copy)
    sort_into(clf, [src], out, move=True)
    merged = contents(out)
    merged[digest(src / "broken.jpg")] = merged.get(digest(src / "broken.jpg"), 0) + 1
    assert merged == before  # resumed: no file twice, none missing
    assert not list(out.rglob(".*.tmp*"))  # no partial copy left


def test_sort_cli(tiny_model: Path, tiny_data: Path, tmp_path: Path, capsys) -> None:
    src = source_tree(tiny_data, tmp_path)
    out = tmp_path / "sorted"
    assert main(["predict", str(tiny_model), str(src), "--sort-into", str(out)]) == 1
    text = capsys.readouterr().out
    assert "copied 24 file(s)" in text and "1 unreadable, left in place" in text
    assert f"left in place: {src / 'broken.jpg'}: truncated" in text
    assert main(["predict", str(tiny_model), str(src), "--move"]) == 2
    assert "--move needs --sort-into" in capsys.readouterr().err
    # Sorting into a folder inside the inputs does not sort the sorted files again.
    assert main(["predict", str(tiny_model), str(src), "--sort-into", str(src / "out")]) == 1
    assert "copied 24 file(s)" in capsys.readouterr().out


def test_out_around_the_inputs_and_drives_without_hard_links(
    tiny_model: Path, tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import resnet_gui.core.use.sorting as sorting

    photos = tmp_path / "Photos"
    shutil.copytree(tiny_data, photos / "inbox")
    before = contents(photos)

    def no_links(src: object, dst: object) -> None:
        raise PermissionError(1, "Operation not permitted")  # as on FAT or exFAT

    monkeypatch.setattr(sorting.os, "link", no_links)
    clf = Classifier.load(tiny_model)
    report = sort_into(clf, [photos / "inbox"], photos)  # OUT is the inputs' parent
    assert report.sorted_count == 12 and not report.unreadable
    again = sort_into(clf, [photos], photos)  # all of it: its own class folders are left out
    assert again.sorted_count == 0 and again.already_sorted == 12
    copies = contents(photos)
    assert all(copies[h] == 2 * n for h, n in before.items())  # originals plus one copy each
    assert not list(photos.rglob(".*.tmp*"))  # no partial copy left
