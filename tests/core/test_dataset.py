"""The scan: classes, counts, unusable files with reasons, warnings, and clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from resnet_gui.core.base.errors import DatasetError
from resnet_gui.core.data.dataset import scan_dataset
from resnet_gui.core.data.split import stratified_split
from tests.conftest import write_tiny_classes
from tests.core.badfiles import write_bad_and_odd


def test_scan_reports_bad_files_and_uses_the_rest(tmp_path: Path) -> None:
    root = write_tiny_classes(tmp_path / "data", n=4)
    files = write_bad_and_odd(root / "flower")
    (root / "flower" / "readme.txt").write_text("not an image extension")
    report = scan_dataset(root)
    assert report.classes == ["china", "flower"]
    reasons = {Path(u.path).name: u.reason for u in report.unusable}
    assert reasons == {
        "truncated.jpg": "truncated",
        "empty.jpg": "empty file",
        "notes.jpg": "not an image",
        "huge.png": "too large",
    }
    used = {Path(p).name for p in report.paths}
    for kind in ("cmyk", "rgba", "gray16", "gif", "webp", "tiff", "bmp", "upper", "unicode"):
        assert files[kind].name in used, kind
    assert "._photo.jpg" not in used
    assert any(s.endswith("._photo.jpg") for s in report.skipped)
    assert any(s.endswith("readme.txt") for s in report.skipped)
    assert report.counts == {"china": 4, "flower": 4 + 10}
    data = report.to_dict()
    assert data["total_images"] == 18 and len(data["unusable"]) == 4


def test_warnings_for_imbalance_and_cross_class_duplicates(tmp_path: Path) -> None:
    root = write_tiny_classes(tmp_path / "data", n=12)
    for p in sorted((root / "flower").iterdir())[1:]:
        p.unlink()
    shutil.copy(root / "china" / "china_0.jpg", root / "flower" / "copy.jpg")
    report = scan_dataset(root)
    text = "\n".join(report.warnings)
    assert "class 'flower' has 2 images, far fewer" in text
    assert "identical files in different classes" in text and "copy.jpg" in text


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        scan_dataset(tmp_path / "nope")


def test_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no class folders"):
        scan_dataset(tmp_path)


def test_one_class_is_a_clear_error(tmp_path: Path) -> None:
    root = write_tiny_classes(tmp_path / "data", n=2)
    shutil.rmtree(root / "flower")
    with pytest.raises(DatasetError, match="only one class"):
        scan_dataset(root)


def test_folders_without_usable_images(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.jpg").write_bytes(b"")
    with pytest.raises(DatasetError, match="no usable images"):
        scan_dataset(tmp_path)


def test_split_is_stratified_seeded_and_disjoint() -> None:
    labels = np.repeat(np.arange(3), [10, 20, 5])
    tr, va = stratified_split(labels, 0.2, seed=1)
    assert set(tr).isdisjoint(va) and len(tr) + len(va) == len(labels)
    assert np.bincount(labels[va]).tolist() == [2, 4, 1]
    tr2, va2 = stratified_split(labels, 0.2, seed=1)
    assert (va == va2).all()
    assert not (stratified_split(labels, 0.2, seed=2)[1] == va).all()


def test_scan_decodes_in_parallel(digits_train: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scan's speed comes from decoding on several threads at once (benchmarks/ has the
    timings); this checks that it does, and that it still finds every image."""
    import threading
    import time

    from resnet_gui.core.data import dataset

    threads: set[int] = set()
    check = dataset._check_file

    def spy(path: Path, max_pixels: int) -> tuple:
        threads.add(threading.get_ident())
        time.sleep(0.002)  # long enough that one thread cannot take every file
        return check(path, max_pixels)

    monkeypatch.setattr(dataset, "_check_file", spy)
    report = scan_dataset(digits_train, workers=4)
    assert len(report.images) == 400
    assert report.median_size() == 32
    assert len(threads) >= 2
