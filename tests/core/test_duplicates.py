"""Near-duplicate photos: found by their perceptual hash, warned about across classes, and kept
on one side of the training/validation split; few images per class are warned about."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

from resnet_gui.core.data.dataset import FEW_IMAGES, scan_dataset
from resnet_gui.core.data.duplicates import near_duplicate_groups
from resnet_gui.core.data.split import stratified_split
from tests.conftest import write_tiny_classes


def _copies(src: Path, dest: Path) -> None:
    """A near-duplicate of ``src`` at ``dest``: smaller, re-saved as JPEG, a little brighter."""
    img = Image.open(src)
    img = ImageEnhance.Brightness(img.resize((img.width // 2, img.height // 2))).enhance(1.1)
    dest.parent.mkdir(parents=True, exist_ok=True)
    img.save(dest, quality=70)


def test_copies_group_and_distinct_crops_do_not(tmp_path: Path) -> None:
    root = write_tiny_classes(tmp_path / "d", n=24, size=64)
    originals = sorted((root / "china").glob("*.jpg"))[:3]
    for i, src in enumerate(originals):
        _copies(src, root / "china" / f"copy_{i}.jpg")
    report = scan_dataset(root)
    groups = report.duplicate_groups()
    by_name = {Path(r.path).name: g for r, g in zip(report.images, groups, strict=True)}
    for i, src in enumerate(originals):
        assert by_name[src.name] == by_name[f"copy_{i}.jpg"]
    # the 48 random crops are all different pictures: only the three pairs are grouped
    assert len(groups) - len(np.unique(groups)) == 3


def test_near_duplicates_across_classes_are_warned(tmp_path: Path) -> None:
    root = write_tiny_classes(tmp_path / "d", n=24, size=64)
    src = sorted((root / "china").glob("*.jpg"))[0]
    _copies(src, root / "flower" / "looks_like_china.jpg")
    warnings = scan_dataset(root).warnings
    lines = [w for w in warnings if w.startswith("near-duplicate photos in different classes")]
    assert len(lines) == 1
    assert f"china/{src.name}" in lines[0] and "flower/looks_like_china.jpg" in lines[0]


def test_few_images_per_class_are_warned(tmp_path: Path) -> None:
    """The boundary: FEW_IMAGES images is few (as the recipe counts), one more is not."""
    root = write_tiny_classes(tmp_path / "d", n=FEW_IMAGES + 1, size=32)
    sorted((root / "flower").glob("*.jpg"))[0].unlink()
    warnings = scan_dataset(root).warnings
    few = [w for w in warnings if "expect lower accuracy on new photos" in w]
    assert few == [f"class 'flower' has only {FEW_IMAGES} images: expect lower accuracy on new "
                   f"photos; add images (more than {FEW_IMAGES} per class)"]


def test_split_keeps_each_group_on_one_side() -> None:
    labels = np.repeat(np.arange(3), 30)
    groups = np.arange(90)
    for start in range(0, 90, 10):  # pairs and triples of near-duplicates in every class
        groups[start + 1] = groups[start]
        groups[start + 3] = groups[start + 4] = groups[start + 2]
    groups[5] = groups[35]  # one group spans two classes
    for seed in range(20):
        tr, va = stratified_split(labels, 0.2, seed=seed, groups=groups)
        assert set(tr).isdisjoint(va) and len(tr) + len(va) == 90
        assert set(groups[tr]).isdisjoint(groups[va]), seed
        assert all(4 <= n <= 7 for n in np.bincount(labels[va], minlength=3)), seed
    # without groups the same call mixes them (what the grouping prevents)
    mixed = [stratified_split(labels, 0.2, seed=s) for s in range(20)]
    assert any(set(groups[tr]) & set(groups[va]) for tr, va in mixed)


def test_grouping_is_transitive_and_scales() -> None:
    rng = np.random.default_rng(1)
    hashes = rng.integers(0, 2**63, size=20000, dtype=np.int64).astype(np.uint64)
    hashes[1] = hashes[0] ^ np.uint64(0b111)  # 3 bits from 0
    hashes[2] = hashes[1] ^ np.uint64(0b111000)  # 3 bits from 1, 6 from 0: joined through 1
    groups = near_duplicate_groups(hashes)
    assert groups[0] == groups[1] == groups[2]
    assert len(np.unique(groups)) == 20000 - 2
