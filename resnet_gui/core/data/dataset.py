"""Scan and validate a class-per-folder image tree (``split.py`` splits it for training).

Every candidate file is decoded in full during the scan (in parallel threads: Pillow releases the
GIL while decoding), so a broken file is named in the report and never reaches training. No
decoded pixels are kept: memory stays flat however large the folder is.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageStat

from resnet_gui.core.base.errors import DatasetError, ImageError, Stopped
from resnet_gui.core.data.cues import light_and_colour_cues, mirror_asymmetry
from resnet_gui.core.data.images import (
    MAX_PIXELS,
    has_image_extension,
    is_hidden,
    open_image,
)

#: A class with fewer than this fraction of the largest class's images gets a warning.
IMBALANCE_RATIO = 0.25

#: Classes count as of unequal size when the largest has at least this many times the images of
#: the smallest: the recipe's log then says what it does about it (``recipe.choose_balance``:
#: by default nothing, since weighing the classes lost on average: docs/recipe.md, "Classes of
#: unequal size"). Every class the scan warns about as far smaller (:data:`IMBALANCE_RATIO`)
#: is such (a test keeps IMBALANCE_RATIO * BALANCE_RATIO <= 1).
BALANCE_RATIO = 2.0

#: A class with this many images or fewer is "few" (:func:`is_few`): the scan warns, since a
#: model learns its look from too few photos and does worse on new ones, and the recipe's
#: automatic epochs do not stop early (docs/recipe.md: few-shot sets).
FEW_IMAGES = 20


def is_few(images_per_class: float) -> bool:
    """True when a class with ``images_per_class`` images counts as few (the one meaning of
    :data:`FEW_IMAGES`)."""
    return images_per_class <= FEW_IMAGES


#: The folder of a data set where removed images are kept (``core.data.edits``): it is not a
#: class, and the scan skips it.
REMOVED_FOLDER = "_removed"

#: Side of the grey thumbnail each image leaves behind in a scan (for the mirror check).
THUMB_SIDE = 16


@dataclass(frozen=True)
class ImageRecord:
    """One usable image: its path, class index, pixel size and content hash."""

    path: str
    label: int
    width: int
    height: int
    sha1: str
    #: Perceptual hash of the picture (``core.data.duplicates``): near-duplicates have close ones.
    phash: int = 0


@dataclass(frozen=True)
class UnusableFile:
    """A file that looked like an image but cannot be used, with the reason."""

    path: str
    reason: str
    detail: str = ""


@dataclass
class DatasetReport:
    """What :func:`scan_dataset` found: classes, usable images, unusable files and warnings."""

    root: str
    classes: list[str]
    images: list[ImageRecord]
    unusable: list[UnusableFile] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    #: How much the classes change when mirrored (``cues.mirror_asymmetry``); None: unknown.
    mirror_asymmetry: float | None = None
    #: The share of the images' brightness that their class explains (``cues.class_share``
    #: and ``cues.light_and_colour_cues``); None: unknown.
    light_cue: float | None = None
    #: The same for their colour (the larger of two colour-opponent axes); None: unknown.
    colour_cue: float | None = None

    @property
    def counts(self) -> dict[str, int]:
        """Usable images per class name, in class order."""
        c = Counter(r.label for r in self.images)
        return {name: c.get(i, 0) for i, name in enumerate(self.classes)}

    @property
    def paths(self) -> list[str]:
        """Paths of the usable images."""
        return [r.path for r in self.images]

    @property
    def labels(self) -> np.ndarray:
        """Class indices of the usable images, as an int32 array."""
        return np.array([r.label for r in self.images], dtype=np.int32)

    def duplicate_groups(self) -> np.ndarray:
        """A group id per image: near-duplicates (``core.data.duplicates``) share one."""
        from resnet_gui.core.data.duplicates import near_duplicate_groups

        return near_duplicate_groups(np.array([r.phash for r in self.images], dtype=np.uint64))

    def median_size(self) -> int:
        """Median of min(width, height) over the usable images (0 when there are none)."""
        if not self.images:
            return 0
        return int(np.median([min(r.width, r.height) for r in self.images]))

    def to_dict(self) -> dict:
        """A JSON-ready summary (what ``resnet-gui scan --format json`` prints)."""
        return {
            "root": self.root,
            "classes": self.classes,
            "counts": self.counts,
            "total_images": len(self.images),
            "median_image_size": self.median_size(),
            "unusable": [asdict(u) for u in self.unusable],
            "skipped": self.skipped,
            "warnings": self.warnings,
            "mirror_asymmetry": _rounded(self.mirror_asymmetry),
            "light_cue": _rounded(self.light_cue),
            "colour_cue": _rounded(self.colour_cue),
            "seconds": round(self.seconds, 3),
        }

    def to_json(self) -> str:
        """The :meth:`to_dict` summary as indented JSON."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _list_files(folder: Path) -> list[Path]:
    """All files below ``folder``, sorted, hidden folders not entered."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath) / f for f in sorted(filenames))
    return found


#: The scan needs a 16 px thumbnail: JPEGs are decoded at the smallest scale that keeps this.
SCAN_DRAFT = 64


def _check_file(path: Path, max_pixels: int) -> tuple[int, int, str, np.ndarray, np.ndarray]:
    """Decode one file fully; return (width, height, sha1 of the bytes, grey thumbnail, mean
    colour as R, G, B in 0-255).

    Raises:
        ImageError: the file cannot be used.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(str(path), "unreadable", exc.strerror or str(exc)) from None
    # Every byte is decoded (a truncated file fails), a large JPEG at a reduced scale.
    img = open_image(data, max_pixels=max_pixels, name=str(path), draft=SCAN_DRAFT)
    thumb = img.convert("L").resize((THUMB_SIDE, THUMB_SIDE), Image.Resampling.BOX)
    colour = np.asarray(ImageStat.Stat(img).mean, np.float32)  # open_image gives RGB
    width, height = img.info.get("source_size", img.size)
    return width, height, hashlib.sha1(data).hexdigest(), np.asarray(thumb), colour


def scan_dataset(
    root: str | os.PathLike[str],
    *,
    classes: Iterable[str] | None = None,
    max_pixels: int = MAX_PIXELS,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> DatasetReport:
    """Scan a folder holding one subfolder per class and validate every image in it.

    Args:
        root: the dataset folder.
        classes: expected class names (e.g. a model's, for evaluation). Subfolders not named here
            are an error; named classes without a folder simply have no images.
        max_pixels: larger images are reported as "too large".
        workers: decoding threads (default: one per CPU, at least 2).
        progress: called as ``progress(done, total)`` while files are checked.
        should_stop: polled between files; when it returns True the scan raises Stopped.

    Returns:
        A :class:`DatasetReport`; images are in class order, then path order.

    Raises:
        DatasetError: the path does not exist or is not a folder, it has fewer than two class
            folders, or no usable image was found.
    """
    import time

    start = time.perf_counter()
    root_path = Path(root).expanduser()
    class_names = _class_names(root_path, classes)
    jobs, skipped = _list_jobs(root_path, class_names)
    records, thumbs, colours, unusable = _check_files(jobs, max_pixels, workers, progress,
                                                      should_stop)

    from resnet_gui.core.data.duplicates import perceptual_hashes

    usable = np.array([r is not None for r in records], dtype=bool)
    hashes = perceptual_hashes(thumbs[usable])
    images = [replace(r, phash=int(h))
              for r, h in zip((r for r in records if r is not None), hashes, strict=True)]
    if not images:
        raise DatasetError(
            f"no usable images in {root_path}"
            + (f" ({len(unusable)} files could not be read)" if unusable else "")
        )
    labels = np.array([r.label for r in images], dtype=np.int32)
    light, colour = light_and_colour_cues(colours[usable], labels)
    report = DatasetReport(
        root=str(root_path),
        classes=class_names,
        images=images,
        unusable=sorted(unusable, key=lambda u: u.path),
        skipped=sorted(skipped),
        seconds=time.perf_counter() - start,
        mirror_asymmetry=mirror_asymmetry(thumbs[usable], labels),
        light_cue=light,
        colour_cue=colour,
    )
    loose = [p for p in root_path.iterdir() if p.is_file() and has_image_extension(p)]
    report.warnings = _warnings(report, loose)
    return report


def require_folder(root: str | os.PathLike[str]) -> None:
    """Refuse a data set path that is not a folder (cheap: training checks it before importing
    TensorFlow).

    Raises:
        DatasetError: it does not exist, or it is a file.
    """
    path = Path(root)
    if not path.exists():
        raise DatasetError(f"dataset folder does not exist: {path}")
    if not path.is_dir():
        raise DatasetError(f"not a folder: {path} (expected one subfolder per class)")


def class_folders(root: str | os.PathLike[str]) -> list[str]:
    """The names of ``root``'s class folders, sorted (hidden ones and ``_removed`` are not
    classes); empty for a folder that does not exist."""
    path = Path(root)
    if not path.is_dir():
        return []
    return sorted(p.name for p in path.iterdir()
                  if p.is_dir() and not is_hidden(p) and p.name != REMOVED_FOLDER)


def _class_names(root_path: Path, classes: Iterable[str] | None) -> list[str]:
    """The class names: ``classes`` when given (every subfolder must be one of them), else the
    subfolders, at least two.

    Raises:
        DatasetError: no such folder, a folder the model does not know, or fewer than two.
    """
    require_folder(root_path)
    folders = class_folders(root_path)
    if classes is not None:
        class_names = list(classes)
        unknown = [f for f in folders if f not in class_names]
        if unknown:
            raise DatasetError(
                f"{root_path} has class folders the model does not know: {', '.join(unknown)}"
            )
        return class_names
    if not folders:
        raise DatasetError(
            f"no class folders in {root_path}: put each class's images in its own subfolder"
        )
    if len(folders) == 1:
        raise DatasetError(
            f"only one class folder in {root_path} ({folders[0]}): a classifier needs at "
            "least two classes, each in its own subfolder"
        )
    return folders


def _list_jobs(root_path: Path, class_names: list[str]) -> tuple[list[tuple[Path, int]],
                                                                 list[str]]:
    """(path, label) of every file with an image extension in the class folders, and the
    other files (hidden, or not images) that the scan skips."""
    skipped: list[str] = []
    jobs: list[tuple[Path, int]] = []
    for index, name in enumerate(class_names):
        folder = root_path / name
        if not folder.is_dir():
            continue
        for path in _list_files(folder):
            if not is_hidden(path) and has_image_extension(path):
                jobs.append((path, index))
            else:
                skipped.append(str(path))
    return jobs, skipped


def _check_files(
    jobs: list[tuple[Path, int]], max_pixels: int, workers: int | None,
    progress: Callable[[int, int], None] | None, should_stop: Callable[[], bool] | None,
) -> tuple[list[ImageRecord | None], np.ndarray, np.ndarray, list[UnusableFile]]:
    """Check every file in parallel threads: a record (None for a file that failed), a small
    grey thumbnail and the mean colour per job, and the files that cannot be used.

    Raises:
        Stopped: ``should_stop`` returned True.
    """
    records: list[ImageRecord | None] = [None] * len(jobs)
    thumbs = np.zeros((len(jobs), THUMB_SIDE, THUMB_SIDE), np.int16)
    colours = np.zeros((len(jobs), 3), np.float32)
    unusable: list[UnusableFile] = []
    n_workers = workers or max(2, os.cpu_count() or 2)

    def check(i: int) -> None:
        path, label = jobs[i]
        try:
            w, h, digest, thumbs[i], colours[i] = _check_file(path, max_pixels)
            records[i] = ImageRecord(str(path), label, w, h, digest)
        except ImageError as err:
            unusable.append(UnusableFile(str(path), err.reason, err.detail))

    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        # Submit in bounded waves so should_stop is honoured quickly and memory stays flat.
        wave = n_workers * 8
        for begin in range(0, len(jobs), wave):
            if should_stop is not None and should_stop():
                raise Stopped("scan stopped")
            list(pool.map(check, range(begin, min(begin + wave, len(jobs)))))
            if progress is not None:
                progress(min(begin + wave, len(jobs)), len(jobs))
    return records, thumbs, colours, unusable


def _warnings(report: DatasetReport, loose: list[Path]) -> list[str]:
    """Problems worth a look that do not stop training."""
    out: list[str] = []
    counts = report.counts
    largest = max(counts.values())
    for name, n in counts.items():
        if n == 0:
            out.append(f"class '{name}' has no usable images")
        elif n < IMBALANCE_RATIO * largest:
            out.append(
                f"class '{name}' has {n} images, far fewer than the largest class ({largest}): "
                "expect lower accuracy on it; more photos of it help most (weighing it more in "
                "training, --class-balance weights, lost on average where measured)"
            )
        elif is_few(n):
            out.append(f"class '{name}' has only {n} images: expect lower accuracy on new "
                       f"photos; add images (more than {FEW_IMAGES} per class)")
    by_hash: dict[str, list[ImageRecord]] = defaultdict(list)
    for rec in report.images:
        by_hash[rec.sha1].append(rec)
    for recs in by_hash.values():
        labels = {r.label for r in recs}
        if len(labels) > 1:
            names = ", ".join(f"{report.classes[r.label]}/{Path(r.path).name}" for r in recs)
            out.append(f"identical files in different classes: {names}")
    out += _near_duplicate_warnings(report)
    if loose:
        out.append(
            f"{len(loose)} image(s) lie directly in the dataset folder, outside any class "
            "folder, and are not used"
        )
    return out


def _near_duplicate_warnings(report: DatasetReport, shown: int = 10) -> list[str]:
    """One line per group of near-duplicate photos that spans classes (identical files are
    reported on their own), at most ``shown`` of them."""
    groups = report.duplicate_groups()
    members: dict[int, list[ImageRecord]] = defaultdict(list)
    for rec, g in zip(report.images, groups, strict=True):
        members[int(g)].append(rec)
    lines = []
    for recs in members.values():
        if len({r.label for r in recs}) > 1 and len({r.sha1 for r in recs}) > 1:
            names = ", ".join(f"{report.classes[r.label]}/{Path(r.path).name}" for r in recs)
            lines.append(f"near-duplicate photos in different classes (one may be mislabelled): "
                         f"{names}")
    if len(lines) > shown:
        lines = lines[:shown] + [f"... and {len(lines) - shown} more groups of near-duplicate "
                                 "photos in different classes"]
    return lines
