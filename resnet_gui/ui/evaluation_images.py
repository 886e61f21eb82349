"""The Evaluation tab's image pages: a confusion-matrix cell's images, the suspected label
errors and all images (incorrect or least confident first), with their thumbnails loaded in the
background, and labels fixed from any of them (right-click, 1-9, Delete; see ``data_edits``):
moved images leave the pages in place, an undo brings them back, and the summary counts the
labels changed since the evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Slot

from resnet_gui.ui.widgets.image_list import MAX_THUMBS, ImageList, same_file
from resnet_gui.ui.workers import thumbnails_work


class EvaluationImages:
    """Mixed into the Evaluation tab, which builds the widgets named below."""

    pool: Any
    report: Any
    data_root: str
    edits: Any
    thumb_workers: dict[str, Any]
    image_lists: tuple[ImageList, ...]
    cell_images: ImageList
    error_images: ImageList
    all_images: ImageList
    cell_label: Any
    errors_label: Any
    all_label: Any
    order_combo: Any
    _cell: tuple[int, int] | None
    _show_summary: Any  # the tab's: the accuracy line, with the labels changed since
    _thumbnail: Any  # the tab's slots for the thumbnails workers (they call the methods below)
    _thumbs_finished: Any

    def set_edits(self, edits: Any) -> None:
        """Let the thumbnails fix labels through ``edits`` (a DataEdits): the right-click
        menu, the digit keys 1-9 and Delete."""
        self.edits = edits
        for images in self.image_lists:
            images.allow_edits(edits, lambda: self.data_root)
        edits.changed.connect(self.data_changed)

    @Slot(str, object)
    def data_changed(self, root: str, action: Any) -> None:
        """Images of the evaluated data set moved: those gone leave the lists; an undo brings
        them back; the summary says how many labels changed since this evaluation."""
        if self.report is None or not self.data_root or \
                same_file(root) != same_file(self.data_root):
            return
        if action.kind == "undo":
            self._fill_errors(self.report)
            self._fill_all()
            if self._cell is not None:
                self.show_cell(*self._cell)
        else:
            moved = [src for src, _ in action.files]
            for images in self.image_lists:
                images.remove_paths(moved)
            self._say_suspects(len(self._suspects()))
        self._show_summary()

    def changed_since_evaluation(self) -> int:
        """How many evaluated images are no longer where the evaluation saw them (moved to
        another class or removed)."""
        if self.report is None:
            return 0
        return sum(1 for p in self.report.paths if not Path(p).exists())

    def _fill_all(self) -> None:
        """Every evaluated image still in place, in the chosen order."""
        if self.report is None:
            return
        rows = [r for r in self.report.images_in_order(self.order_combo.currentData())
                if Path(r["path"]).exists()]
        more = f" (first {MAX_THUMBS})" if len(rows) > MAX_THUMBS else ""
        self.all_label.setText(f"{len(rows)} image(s){more}; right-click or press 1-9 to "
                               "move to a class, Delete to remove, Ctrl+Z to undo")
        paths = self.all_images.show_rows(
            rows, lambda r: f"{Path(r['path']).name}\n{r['label']} → {r['predicted']} "
                            f"({r['probability']:.0%})")
        self._load_thumbnails(paths, self.all_images)

    def _suspects(self) -> list[dict]:
        """The suspected label errors whose image is still where the evaluation saw it."""
        return [r for r in self.report.suspected_label_errors if Path(r["path"]).exists()]

    def _say_suspects(self, n: int) -> None:
        fixed = len(self.report.suspected_label_errors) - n
        text = (
            f"{n} image(s) whose folder label disagrees with a confident prediction, most "
            "suspicious first; the number is the model's probability for what it sees minus "
            "that for the label. Right-click (or press 1-9, Delete) to fix the label; Ctrl+Z "
            "undoes."
            if n else "No suspected label errors: no confident prediction contradicts a label."
        )
        self.errors_label.setText(text + (f" ({fixed} fixed since the evaluation.)"
                                          if fixed else ""))

    def _fill_errors(self, report: Any) -> None:
        rows = self._suspects()
        self._say_suspects(len(rows))
        paths = self.error_images.show_rows(
            rows, lambda r: f"{Path(r['path']).name}\n{r['label']} → {r['predicted']} "
                            f"({r['confidence']:.2f})"
        )
        self._load_thumbnails(paths, self.error_images)

    @Slot(int, int)
    def show_cell(self, true: int, predicted: int) -> None:
        """List the images of one confusion-matrix cell, most confident first."""
        if self.report is None:
            return
        self._cell = (true, predicted)
        rows = [r for r in self.report.cell(true, predicted) if Path(r["path"]).exists()]
        classes = self.report.classes
        more = f" (first {MAX_THUMBS})" if len(rows) > MAX_THUMBS else ""
        self.cell_label.setText(
            f"{len(rows)} '{classes[true]}' image(s) predicted '{classes[predicted]}'{more}"
        )
        paths = self.cell_images.show_rows(
            rows, lambda r: f"{Path(r['path']).name}\n{r['probability']:.1%}"
        )
        self._load_thumbnails(paths, self.cell_images)

    def _load_thumbnails(self, paths: list[str], target: ImageList) -> None:
        """Decode ``paths``' thumbnails in the background into ``target`` (each list has its
        own worker, so filling one never stops the other)."""
        self._stop_thumbnails(target)
        if paths:
            self.thumb_workers[target.objectName()] = self.pool.submit(
                thumbnails_work(paths), name="thumbnails",
                connect={"progressed": self._thumbnail, "finished": self._thumbs_finished},
            )

    def _stop_thumbnails(self, target: ImageList) -> None:
        worker = self.thumb_workers.pop(target.objectName(), None)
        if worker is not None:
            worker.stop()

    def _take_thumbnail(self, item: tuple[str, Any]) -> None:
        """A decoded thumbnail: every page that shows its image takes it (the same pixels).
        (The tab's slot ``_thumbnail`` calls this: see ``workers.check_gui_slot``.)"""
        for images in self.image_lists:
            images.set_thumbnail(*item)

    def _end_thumbnails(self) -> None:
        """A thumbnails worker ended (called by the tab's slot ``_thumbs_finished``)."""
        worker = self.sender()  # type: ignore[attr-defined]
        for name, w in list(self.thumb_workers.items()):
            if w is worker:
                del self.thumb_workers[name]
