"""The Review tab: which photos to label next, and labelling them into the data set.

Drop (or choose) a folder of unlabelled photos: the current model orders them so that the first
ones help it most when labelled (``core.use.review``: uncertain, typical and unlike what is
labelled already) and shows them as a grid, each with its predicted class. File the selected
photos with a class button, the digit keys 1-9 or the right-click menu; Enter accepts the
predicted class. They are copied (or moved, a setting) into the training tab's data set; Ctrl+Z
undoes. Filed photos leave the grid; an undo brings them back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from resnet_gui.ui.widgets.drop_zone import FolderDropTarget
from resnet_gui.ui.widgets.image_list import MAX_THUMBS, ImageList, same_file
from resnet_gui.ui.workers import ThreadPool, Worker, review_work, thumbnails_work


class ReviewList(ImageList):
    """The review grid: Enter files the selected photos as their predicted class."""

    accept_predicted = Signal(list)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.selected_paths():
            self.accept_predicted.emit(self.selected_paths())
            return
        super().keyPressEvent(event)


class ReviewTab(FolderDropTarget, QWidget):
    """See the module docstring. ``set_classifier`` gives it the model; ``set_edits`` the
    DataEdits and the data set (a callable returning the training tab's folder)."""

    status = Signal(str)

    def __init__(self, pool: ThreadPool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pool = pool
        self.classifier: Any = None
        self.edits: Any = None
        self.data_root: Any = lambda: ""
        self.items: list[Any] = []  # ReviewItems, most useful first
        self.filed: dict[str, str] = {}  # a filed photo's path -> its path in the data set
        self._classes: tuple[str, list[str]] | None = None  # the buttons' data set, classes
        self.worker: Worker | None = None
        self.thumb_worker: Worker | None = None
        self.setAcceptDrops(True)
        self._build()
        self._update_enabled()

    def _build(self) -> None:
        top = QHBoxLayout()
        self.folder_button = QPushButton("Unlabelled folder…")
        self.folder_button.clicked.connect(self.choose_folder)
        self.move_check = QCheckBox("Move into the data set (instead of copying)")
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        for w in (self.folder_button, self.move_check, self.stop_button):
            top.addWidget(w)
        top.addStretch(1)
        self.info = QLabel("Drop a folder of unlabelled photos here: the model orders them so "
                           "that labelling the first ones helps it most.")
        self.info.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setFormat("")
        self.class_row = QHBoxLayout()
        self.grid = ReviewList()
        self.grid.accept_predicted.connect(self.accept_predicted)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.info)
        layout.addWidget(self.progress)
        layout.addLayout(self.class_row)
        layout.addWidget(self.grid, 1)

    def _update_enabled(self) -> None:
        busy = self.worker is not None
        self.folder_button.setEnabled(self.classifier is not None and not busy)
        self.stop_button.setEnabled(busy)

    # ------------------------------------------------------------------ inputs
    @Slot(object)
    def set_classifier(self, classifier: Any) -> None:
        """Order photos with ``classifier`` from now on (an order made by another model is
        cleared)."""
        if classifier is self.classifier:
            return
        self.stop()
        self.classifier = classifier
        if self.items:
            self.items, self.filed = [], {}
            self.grid.clear()
            self.info.setText("The model changed: drop the folder again to order it with the "
                              "new one.")
        self._update_enabled()

    def set_edits(self, edits: Any, data_root: Any) -> None:
        """File photos through ``edits`` (a DataEdits) into the data set ``data_root()``."""
        self.edits, self.data_root = edits, data_root
        self.grid.allow_edits(edits, data_root, inside=False, move=self.move_check.isChecked)
        edits.changed.connect(self.data_changed)
        self.refresh_classes()

    def choose_folder(self) -> None:
        """Ask for a folder of unlabelled photos and order them."""
        path = QFileDialog.getExistingDirectory(self, "Folder of unlabelled photos")
        if path:
            self.review_folder(path)

    def folder_dropped(self, path: str) -> None:
        """A folder dropped on the tab: order its photos."""
        self.review_folder(path)

    def review_folder(self, path: str) -> None:
        """Order the photos under ``path`` with the current model (in the background)."""
        if self.classifier is None:
            QMessageBox.information(self, "No model", "Train or load a model first.")
            return
        if self.worker is not None:
            self.status.emit("A review is being prepared: stop it first")
            return
        self.items, self.filed = [], {}
        self.grid.clear()
        root = self.data_root()
        labelled = [root] if root and Path(root).is_dir() else []
        self.info.setText(f"Ordering the photos in {path}…")
        self.progress.setFormat("%p%")
        self.worker = self.pool.submit(
            review_work(self.classifier, [path], labelled), name="review",
            connect={"progressed": self._progress, "returned": self._done,
                     "errored": self._failed, "finished": self._finished})
        self._update_enabled()

    def stop(self) -> None:
        """Stop ordering after the current batch."""
        if self.worker is not None:
            self.worker.stop()

    @Slot(object)
    def _progress(self, progress: tuple[int, int]) -> None:
        self.progress.setValue(int(1000 * progress[0] / max(1, progress[1])))

    @Slot(str, str)
    def _failed(self, message: str, details: str) -> None:
        self.info.setText(f"Cannot review: {message}")
        QMessageBox.warning(self, "Cannot review", message)

    @Slot()
    def _finished(self) -> None:
        self.worker = None
        self._update_enabled()

    @Slot(object)
    def _done(self, result: Any) -> None:
        if result is None:
            self.info.setText("Stopped.")
            return
        self.items, errors = result
        self.progress.setValue(1000)
        bad = f"; {len(errors)} could not be read ({', '.join(map(_name, errors))})" \
            if errors else ""
        self.info.setText(
            f"{len(self.items)} photos, the most useful to label first{bad}. Select and press "
            "1-9 (or a class button), Enter for the predicted class; Ctrl+Z undoes.")
        self._fill()
        self.refresh_classes()

    # ------------------------------------------------------------------ the grid
    def _fill(self) -> None:
        rows = [{"path": i.path, "item": i} for i in self.items if i.path not in self.filed]
        paths = self.grid.show_rows(
            rows, lambda r: f"{Path(r['path']).name}\n{r['item'].predicted} "
                            f"{r['item'].confidence:.0%}")
        if self.thumb_worker is not None:
            self.thumb_worker.stop()
        self.thumb_worker = self.pool.submit(
            thumbnails_work(paths[:MAX_THUMBS]), name="thumbnails",
            connect={"progressed": self._thumbnail})
        if rows:
            self.grid.setCurrentRow(0)

    @Slot(object)
    def _thumbnail(self, item: tuple[str, Any]) -> None:
        if self.sender() is self.thumb_worker:
            self.grid.set_thumbnail(*item)

    def refresh_classes(self) -> None:
        """One button per class of the data set (the digit keys' order), made again only when
        the data set or its classes change. The buttons never take the focus: the grid keeps
        it, and the keys go on working after a click."""
        root = self.data_root()
        state = (root, self.edits.classes(root) if root and self.edits is not None else [])
        if state == self._classes:
            return
        self._classes = state
        while self.class_row.count():
            w = self.class_row.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        if not root or self.edits is None:
            self.class_row.addWidget(QLabel("Open a data set in the Training tab to file photos "
                                            "into it."))
            return
        self.class_row.addWidget(QLabel(f"File into {Path(root).name}:"))
        for n, name in enumerate(state[1], 1):
            button = QPushButton(f"{n} {name}" if n <= 9 else name)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            button.clicked.connect(lambda _c=False, name=name: self.file(
                self.grid.selected_paths(), name))
            self.class_row.addWidget(button)
        accept = QPushButton("Predicted class (Enter)")
        accept.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        accept.clicked.connect(lambda: self.accept_predicted(self.grid.selected_paths()))
        self.class_row.addWidget(accept)
        self.class_row.addStretch(1)

    def file(self, paths: list[str], name: str) -> Any:
        """Copy (or move) ``paths`` into class ``name`` of the data set."""
        root = self.data_root()
        if not paths or not root or self.edits is None:
            return None
        return self.edits.add(paths, root, name, move=self.move_check.isChecked())

    @Slot(list)
    def accept_predicted(self, paths: list[str]) -> None:
        """File each of ``paths`` as its predicted class."""
        predicted = {i.path: i.predicted for i in self.items}
        by_class: dict[str, list[str]] = {}
        for p in paths:
            if p in predicted:
                by_class.setdefault(predicted[p], []).append(p)
        for name, group in by_class.items():
            self.file(group, name)

    @Slot(str, object)
    def data_changed(self, root: str, action: Any) -> None:
        """Filed photos leave the grid; an undo of a filing brings them back."""
        shown = {same_file(i.path): i.path for i in self.items}
        if action.kind in ("add", "move", "file"):
            filed = {shown[src]: dst for src, dst in action.files if src in shown}
            self.filed.update(filed)
            self.grid.remove_paths(list(filed))  # the next photo is selected
        elif action.kind == "undo":
            back = {dst for _, dst in action.files} | {src for src, _ in action.files}
            undone = [p for p, d in self.filed.items() if d in back]
            for p in undone:
                del self.filed[p]
            if undone:
                self._fill()
        self.refresh_classes()


def _name(path: str) -> str:
    return Path(path).name
