"""Sort a folder of photos into one folder per predicted class, losing nothing.

Every file ends either where it was or whole in ``OUT/<class>/`` (``OUT/_uncertain/`` below the
minimum confidence):

- A copy is written under a hidden temporary name (``core.base.atomic``), flushed to disk, then
  linked to a free final name (``photo (2).jpg`` on a clash; linking never replaces an existing
  file) and the temporary name removed. A crash leaves at most a temporary file, which the next
  run deletes once its writer is gone.
- A move first copies as above, then checks the copy's size and SHA-256 against the source, and
  only then deletes the source.
- ``OUT/predictions.csv`` (:data:`SORT_FIELDS`) gets one row per file as soon as it is handled,
  flushed: old path, new path, label, probability, status. A re-run skips files already recorded
  as sorted whose copy still exists, and a file whose identical copy is already in its class
  folder (a crash between copy and record) is recorded, not copied twice.
- Unreadable files stay where they are, with status ``unreadable`` and the reason.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from resnet_gui.core.base.atomic import copy_into as _copy_whole
from resnet_gui.core.base.atomic import (
    drop_if_same,
    file_digest,
    free_names,
    sweep,
    try_writing_in,
)
from resnet_gui.core.base.errors import InputError
from resnet_gui.core.data.images import expand_inputs

if TYPE_CHECKING:
    from resnet_gui.core.use.inference import Classifier, Prediction

#: The layout of ``OUT/predictions.csv``.
SORT_FIELDS = ("old_path", "new_path", "label", "probability", "status", "error")
#: Where images below the minimum confidence go.
UNCERTAIN_FOLDER = "_uncertain"
SORT_CSV = "predictions.csv"


@dataclass
class SortReport:
    """What a sort did: counts per destination folder, files skipped, files left in place."""

    out_dir: str
    moved: bool
    per_folder: Counter = field(default_factory=Counter)
    already_sorted: int = 0
    #: Files an earlier run copied whose sources this (move) run deleted.
    finished_moves: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)
    stopped: bool = False

    @property
    def sorted_count(self) -> int:
        """Files copied or moved in this run."""
        return sum(self.per_folder.values())

    def summary(self) -> str:
        """One line, e.g. ``copied 40 files: cat 25, dog 12, _uncertain 3; 1 unreadable``."""
        verb = "moved" if self.moved else "copied"
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.per_folder.items()))
        text = f"{verb} {self.sorted_count} file(s)" + (f": {parts}" if parts else "")
        if self.already_sorted:
            text += f"; {self.already_sorted} already sorted"
        if self.finished_moves:
            text += f" ({self.finished_moves} sources of earlier copies removed)"
        if self.unreadable:
            text += f"; {len(self.unreadable)} unreadable, left in place"
        return text + ("; stopped" if self.stopped else "")


def _same_file_there(
    source: Path, folder: Path, digest: str, claimed: set[str]
) -> Path | None:
    """An unclaimed file in ``folder`` under the source's name (or a suffixed one) with the same
    bytes: the copy of an interrupted run. Files recorded for other sources are ``claimed``
    (two identical photos stay two files)."""
    size = source.stat().st_size
    for cand in free_names(folder, source.name):
        if not cand.exists():
            return None
        if str(cand) in claimed:
            continue
        if cand.stat().st_size == size and file_digest(cand) == digest:
            return cand
    return None


def _read_done(csv_path: Path) -> tuple[dict[str, str], set[str]]:
    """(old path -> new path of files a previous run sorted whose copy still exists, every
    destination path recorded)."""
    done: dict[str, str] = {}
    claimed: set[str] = set()
    if not csv_path.is_file():
        return done, claimed
    try:
        with csv_path.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if row.get("status") in ("copied", "moved") and row.get("new_path"):
                    claimed.add(row["new_path"])
                    if Path(row["new_path"]).is_file():
                        done[row["old_path"]] = row["new_path"]
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise InputError(
            f"{csv_path} is unreadable ({exc}); move it away to sort into this folder"
        ) from exc
    return done, claimed


def sort_into(
    classifier: Classifier,
    inputs: Iterable[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    *,
    move: bool = False,
    min_confidence: float = 0.0,
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> SortReport:
    """Copy (or move) each image into ``out_dir/<predicted class>/``; see the module docstring.

    Args:
        classifier: the model.
        inputs: files and folders (folders recursively; files in the sort's own class folders
            under ``out_dir`` are left out).
        out_dir: the destination; created if missing.
        move: delete each source after its copy is verified.
        min_confidence: below this top probability, files go to ``_uncertain``.
        batch_size: images per model call.
        progress: called with (files handled, total).
        should_stop: polled between batches; a stop leaves every file whole.

    Raises:
        InputError: ``out_dir`` cannot be created or written.
    """
    out, own = _open_out(out_dir, classifier.class_names)
    csv_path = out / SORT_CSV
    done, claimed = _read_done(csv_path)
    report = SortReport(str(out), move)
    # The sort's own folders are never sorted again (OUT may be inside, or around, the inputs).
    paths = [
        p for p in expand_inputs(inputs)
        if not any(Path(p).resolve().is_relative_to(folder) for folder in own)
    ]
    todo = [p for p in paths if str(Path(p).resolve()) not in done]
    report.already_sorted = len(paths) - len(todo)
    new_file = not csv_path.is_file()
    with csv_path.open("a", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        if new_file:
            writer.writerow(SORT_FIELDS)
        if move:  # a file copied by an earlier run: now that a move is asked, finish it
            _finish_moves(paths, done, writer, report)
            fh.flush()
        handled = report.already_sorted
        if progress:
            progress(handled, len(paths))
        for batch in classifier.iter_predict(
            todo, top_k=1, batch_size=batch_size, min_confidence=min_confidence,
            should_stop=should_stop,
        ):
            for pred in batch:
                _record(fh, writer, _sort_one(pred, out, move, report, claimed), move)
            handled += len(batch)
            if progress:
                progress(handled, len(paths))
        report.stopped = handled < len(paths)
    return report


def _record(fh: Any, writer: Any, row: list[str], move: bool) -> None:
    """Write ``row`` to the CSV and to the disk; then, for a move, delete the source: only
    once its copy is verified and recorded, so a crash before leaves the source, which the next
    run recognises and removes."""
    writer.writerow(row)
    fh.flush()
    os.fsync(fh.fileno())
    if move and row[4] == "moved":
        Path(row[0]).unlink(missing_ok=True)


def _open_out(out_dir: str | os.PathLike[str], class_names: list[str]) -> tuple[Path,
                                                                                list[Path]]:
    """The destination (created, checked writable) and the sort's own folders in it, swept
    of the partial copies an interrupted sort left.

    Raises:
        InputError: ``out_dir`` cannot be created or written.
    """
    out = Path(out_dir).expanduser().resolve()
    try:
        try_writing_in(out)
    except OSError as exc:
        raise InputError(f"cannot write to {out}: {exc.strerror or exc}") from exc
    own = [out / _safe_folder(c) for c in class_names] + [out / UNCERTAIN_FOLDER]
    for folder in own:
        sweep(folder)
    return out, own


def _finish_moves(paths: list[str], done: dict[str, str], writer: Any,
                  report: SortReport) -> None:
    """Delete the sources an earlier run copied (and recorded) but did not delete, when the
    copy holds the same bytes; each is recorded as moved."""
    for p in paths:
        key = str(Path(p).resolve())
        if key in done and drop_if_same(Path(key), Path(done[key])):
            writer.writerow([key, done[key], "", "", "moved", ""])
            report.finished_moves += 1


def _sort_one(
    pred: Prediction, out: Path, move: bool, report: SortReport, claimed: set[str]
) -> list[str]:
    source = Path(pred.path).resolve()
    if pred.error or pred.top is None:
        report.unreadable.append((str(source), pred.error or "unreadable"))
        return [str(source), "", "", "", "unreadable", pred.error or ""]
    label, prob = pred.top
    folder_name = UNCERTAIN_FOLDER if pred.uncertain else _safe_folder(label)
    folder = out / folder_name
    try:
        digest = file_digest(source)
        target = _same_file_there(source, folder, digest, claimed) if folder.is_dir() else None
        if target is None:
            target = _copy_whole(source, folder)
            if target.stat().st_size != source.stat().st_size or file_digest(target) != digest:
                target.unlink()
                raise OSError("the copy differs from the source")
    except OSError as exc:
        report.unreadable.append((str(source), f"not sorted: {exc.strerror or exc}"))
        return [str(source), "", label, f"{prob:.6f}", "failed", str(exc.strerror or exc)]
    claimed.add(str(target))
    report.per_folder[folder_name] += 1
    return [str(source), str(target), label, f"{prob:.6f}", "moved" if move else "copied", ""]


def _safe_folder(label: str) -> str:
    """A class name usable as one folder name (path separators and leading dots replaced)."""
    name = label.replace("/", "_").replace("\\", "_").replace("\0", "_").strip()
    name = name.lstrip(".") or "_"
    return name if name != UNCERTAIN_FOLDER else f"{name}_class"
