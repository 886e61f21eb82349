"""The inference cards' part in fixing and growing the data set: a right-click menu ("Add to
the training data as", or "Move to class" for a photo of the data set), the digit keys and
Delete on a focused card, and cards that follow their photo when it moves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QMenu

from resnet_gui.ui.data_edits import data_set_of
from resnet_gui.ui.widgets.image_list import open_path, same_file


class CardEdits:
    """Mixed into the inference tab (a QWidget with ``cards``, ``status`` and ``_make_card``
    connecting each card's ``menu_requested`` and ``key_pressed`` here)."""

    cards: list[Any]
    status: Any
    edits: Any = None  # a DataEdits (set_edits)

    def data_root(self) -> str:
        """The data set photos are added to ('' until set_edits)."""
        return ""

    def set_edits(self, edits: Any, data_root: Any) -> None:
        """Offer "Add to the training data as" on the cards, through ``edits`` (a DataEdits),
        into the data set ``data_root()`` (the training tab's folder)."""
        self.edits, self.data_root = edits, data_root  # type: ignore[method-assign]
        edits.changed.connect(self._data_changed)

    def _edit_target(self, path: str) -> tuple[str, bool]:
        """(the data set, whether ``path`` is already one of its images)."""
        root = self.data_root()
        inside = bool(root) and data_set_of(path) == same_file(root)
        return root, inside

    @Slot(str, QPoint)
    def _card_menu(self, path: str, pos: QPoint) -> None:
        menu = self.card_menu(path)
        menu.exec(pos)

    def card_menu(self, path: str) -> QMenu:
        """The right-click menu of the card of ``path``."""
        menu = QMenu(self)  # type: ignore[arg-type]
        menu.addAction("Open", lambda: open_path(path))
        menu.addAction("Show in folder", lambda: open_path(str(Path(path).parent)))
        if self.edits is not None and Path(path).is_file():
            menu.addSeparator()
            root, inside = self._edit_target(path)
            self.edits.fill_menu(menu, [path], root, inside=inside)
        return menu

    @Slot(str, QKeyEvent)
    def _card_key(self, path: str, event: QKeyEvent) -> None:
        if self.edits is None or not Path(path).is_file():
            return
        root, inside = self._edit_target(path)
        if self.edits.handle_key(event, [path], root, inside=inside):
            event.accept()

    @Slot(str, object)
    def _data_changed(self, root: str, action: Any) -> None:
        """A card follows its photo: moved within the data set, or copied into it (so the next
        key moves that copy instead of making another); an undo takes it back."""
        moved = dict(action.files)
        for card in self.cards:
            here = same_file(card.result["path"])
            if here in moved and moved[here] != here:
                if action.kind == "add":
                    card.result.setdefault("origin", card.result["path"])
                card.result["path"] = moved[here]
            elif not Path(here).exists() and card.result.get("origin"):
                card.result["path"] = card.result.pop("origin")  # its copy was undone
