"""Fix labels and grow a data set from wherever an image is shown: the menus, the keys and undo.

One :class:`DataEdits` belongs to the main window. The views ask it to fill their context menus
(:meth:`DataEdits.fill_menu`) and pass it their key presses (:meth:`DataEdits.handle_key`); it
runs the change through the core's :class:`~resnet_gui.core.data.edits.DataSetEditor` (journal,
undo across restarts, nothing lost) and says what changed with :attr:`DataEdits.changed`, so
each view updates in place. A folder that cannot be written gets a message before anything is
touched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QInputDialog, QMenu, QMessageBox, QWidget

from resnet_gui.core.base.errors import InputError
from resnet_gui.core.data.dataset import class_folders
from resnet_gui.core.data.edits import JOURNAL, DataSetEditor

#: The digit keys that file the selected images into the n-th class (1 = the first).
DIGIT_KEYS = {getattr(Qt.Key, f"Key_{n}"): n for n in range(1, 10)}


def data_set_of(path: str | Path) -> str:
    """The data set folder an image of a class folder belongs to (``DATA/<class>/image``)."""
    return str(Path(path).resolve().parent.parent)


class DataEdits(QObject):
    """The data set edits of one window (see the module docstring).

    ``changed(root, action)``: an action (a core ``Action``) was done or undone in data set
    ``root``; its ``files`` are (from, to) pairs. ``said(text)``: a line for the status bar
    (a key that did nothing, and why).
    """

    changed = Signal(str, object)
    said = Signal(str)

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.window = window
        #: The data set Edit > Undo acts on: the one edited last, else the training folder.
        self.current_root = ""
        #: The data set a training run reads now ('' when none): it is not changed meanwhile.
        self.busy_root: Any = lambda: ""
        self._editors: dict[str, DataSetEditor] = {}

    # ------------------------------------------------------------------ editors
    def editor(self, root: str) -> DataSetEditor | None:
        """The editor of data set ``root`` (opened once; a crash's leftovers are finished on
        opening); None after telling the user why it cannot be changed."""
        key = str(Path(root).expanduser().resolve())
        if key == self._busy():
            QMessageBox.information(
                self.window, "Training on this data set",
                "A training run is reading this data set: change it when the run has ended "
                "(or Stop it first).")
            return None
        if key not in self._editors:
            try:
                self._editors[key] = DataSetEditor(key)
            except InputError as exc:
                QMessageBox.warning(self.window, "Cannot change this data set", str(exc))
                return None
        return self._editors[key]

    def recover(self, root: str) -> None:
        """Finish an action a crash cut short in ``root`` (before it is scanned). Quiet: a
        data set without a journal is not touched, one that cannot be written is left as
        it is."""
        key = str(Path(root).expanduser().resolve())
        if key not in self._editors and (Path(key) / JOURNAL).is_file():
            try:
                self._editors[key] = DataSetEditor(key)
            except InputError:
                pass

    def classes(self, root: str) -> list[str]:
        """The class folders of ``root``, in the order the digit keys use."""
        return class_folders(root)

    # ------------------------------------------------------------------ actions
    def move(self, paths: list[str], root: str, name: str) -> Any:
        """Move images of data set ``root`` into class ``name``."""
        return self._do(root, lambda e: e.move_to_class(paths, name))

    def add(self, paths: list[str], root: str, name: str, move: bool = False) -> Any:
        """Copy (or ``move``) images from anywhere into class ``name`` of data set ``root``."""
        return self._do(root, lambda e: e.add_copies(paths, name, move=move))

    def file(self, inside: list[str], outside: list[str], root: str, name: str,
             move: bool = False) -> Any:
        """Move images of data set ``root`` (``inside``) and copy (or ``move``) images from
        elsewhere (``outside``) into class ``name``: one action, one undo step."""
        return self._do(root, lambda e: e.file_into_class(inside, outside, name, move=move))

    def remove(self, paths: list[str], root: str) -> Any:
        """Move images of data set ``root`` to its ``_removed`` folder."""
        return self._do(root, lambda e: e.remove(paths))

    def undo(self) -> Any:
        """Undo the last action in the current data set (also one from an earlier session)."""
        if not self.current_root:
            return None
        return self._do(self.current_root, lambda e: e.undo())

    def undo_text(self) -> str:
        """The Edit menu's text: "Undo move 2 images to 'cat'", or plain "Undo"."""
        if not self.current_root:
            return "Undo"
        self.recover(self.current_root)  # opens the journal, if there is one
        editor = self._editors.get(str(Path(self.current_root).expanduser().resolve()))
        last = editor.last_undoable() if editor is not None else None
        return f"Undo {last.describe()}" if last else "Undo"

    def _busy(self) -> str:
        busy = self.busy_root()
        return str(Path(busy).expanduser().resolve()) if busy else ""

    def _do(self, root: str, act: Any) -> Any:
        editor = self.editor(root)
        if editor is None:
            return None
        try:
            action = act(editor)
        except (InputError, OSError) as exc:
            QMessageBox.warning(self.window, "Cannot change the data set", str(exc))
            return None
        self.current_root = str(editor.root)
        if action is not None:
            self.changed.emit(str(editor.root), action)
        return action

    # ------------------------------------------------------------------ menus and keys
    def ask_class_name(self, root: str) -> str | None:
        """Ask for a new class's name (None: cancelled)."""
        name, ok = QInputDialog.getText(self.window, "New class",
                                        f"Name of the new class in {Path(root).name}:")
        return name.strip() if ok and name.strip() else None

    def fill_menu(self, menu: QMenu, paths: list[str], root: str, *, inside: bool,
                  move: bool = False) -> None:
        """Add the edit actions for ``paths`` to ``menu``.

        Args:
            menu: the context menu being built.
            paths: the images the menu acts on.
            root: the data set they belong to (``inside``) or would join; '' when none is open.
            inside: the images are in ``root``'s class folders (move, remove) or come from
                elsewhere (add a copy).
            move: images from elsewhere are moved into the data set, not copied.
        """
        if not paths:
            return
        if not root:
            none = menu.addAction("Add to the training data as ▸ (open a data set first)")
            none.setEnabled(False)
            return
        title = "Move to class" if inside else "Add to the training data as"

        mine, theirs = (paths, []) if inside else ([], paths)
        self.class_menu(menu, title, root,
                        lambda name: self.file(mine, theirs, root, name, move=move)
                        ).setObjectName(
            "move_menu" if inside else "add_menu")
        if inside:
            menu.addAction("Remove from the data set", lambda: self.remove(paths, root))

    def class_menu(self, menu: QMenu, title: str, root: str,
                   do: Callable[[str], object]) -> QMenu:
        """A submenu ``title`` of ``menu`` listing the classes of ``root`` (the first nine with
        their digit as shortcut) and "New class…"; choosing one calls ``do(name)``."""
        sub = menu.addMenu(title)
        for n, name in enumerate(self.classes(root), 1):
            text = f"&{n} {name}" if n <= 9 else name
            sub.addAction(text, lambda name=name: do(name))
        sub.addSeparator()

        def new_class() -> None:
            name = self.ask_class_name(root)
            if name:
                do(name)

        sub.addAction("New class…", new_class)
        return sub

    def handle_key(self, event: QKeyEvent, root: str, *, inside: Sequence[str] = (),
                   outside: Sequence[str] = (), move: bool = False) -> bool:
        """Digits 1-9 file the images into the n-th class of data set ``root``, as one action:
        ``inside`` (images of ``root``) move, ``outside`` (from elsewhere) are copied, or moved
        with ``move``. Delete removes ``inside``. Returns True when the key was used."""
        if not (inside or outside) or event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
            return False
        key = event.key()
        if key in DIGIT_KEYS and not root:
            self.said.emit("Open a data set in the Training tab first: the keys file photos "
                           "into its classes")
            return True
        if key in DIGIT_KEYS:
            names = self.classes(root)
            n = DIGIT_KEYS[key]
            if n > len(names):
                self.said.emit(f"{Path(root).name} has {len(names)} classes: no class {n}")
            else:
                self.file(list(inside), list(outside), root, names[n - 1], move=move)
            return True
        if inside and key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.remove(list(inside), root)
            return True
        return False
