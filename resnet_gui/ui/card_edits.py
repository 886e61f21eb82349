"""The inference cards' part in fixing and growing the data set: a right-click menu ("Add to
the training data as", or "Move to class" for a photo of the data set), the digit keys and
Delete on a focused card, and cards that follow their photo when it moves.

Cards are selected as files in a file manager: a click selects one, Ctrl+click adds or takes
away one, Shift+click a range, Ctrl+A all, Escape none. The menu and the keys of a selected
card act on the whole selection. A right-click on another card selects it alone; the keys of a
focused card just Ctrl+clicked out of the selection act on the rest of the selection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, Qt, Slot
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QMenu

from resnet_gui.ui.data_edits import data_set_of
from resnet_gui.ui.widgets.image_list import open_path, same_file


class CardEdits:
    """Mixed into the inference tab (a QWidget with ``cards``, ``status`` and ``_make_card``
    connecting each card's ``menu_requested`` and ``key_pressed`` here)."""

    cards: list[Any]
    status: Any
    edits: Any = None  # a DataEdits (set_edits)
    _anchor: Any = None  # the card a Shift+click's range starts from

    def data_root(self) -> str:
        """The data set photos are added to ('' until set_edits)."""
        return ""

    def set_edits(self, edits: Any, data_root: Any) -> None:
        """Offer "Add to the training data as" on the cards, through ``edits`` (a DataEdits),
        into the data set ``data_root()`` (the training tab's folder)."""
        self.edits, self.data_root = edits, data_root  # type: ignore[method-assign]
        edits.changed.connect(self._data_changed)

    # ------------------------------------------------------------------ selection
    def selected_cards(self) -> list[Any]:
        """The selected cards, in the grid's order."""
        return [c for c in self.cards if c.selected]

    def select_cards(self, chosen: list[Any]) -> None:
        """Select exactly ``chosen`` (the first becomes the anchor of a Shift+click)."""
        for card in self.cards:
            card.set_selected(any(card is c for c in chosen))
        self._anchor = chosen[0] if chosen else None

    @Slot(object, object)
    def _card_clicked(self, card: Any, modifiers: Any) -> None:
        """A click selects the card; Ctrl+click adds or takes it away; Shift+click a range."""
        ctrl = bool(modifiers & Qt.KeyboardModifier.ControlModifier)
        if modifiers & Qt.KeyboardModifier.ShiftModifier and self._anchor in self.cards:
            a, b = sorted((self.cards.index(self._anchor), self.cards.index(card)))
            for i, other in enumerate(self.cards):
                other.set_selected(a <= i <= b or (ctrl and other.selected))
        elif ctrl:
            card.set_selected(not card.selected)
            self._anchor = card
        else:
            self.select_cards([card])

    def _card_of(self, path: str) -> Any:
        here = same_file(path)
        return next((c for c in self.cards if same_file(c.result["path"]) == here), None)

    def _targets(self, path: str, card: Any = None, *, key: bool = False) -> list[str]:
        """The photos a menu or key on ``card`` (the card of ``path``) acts on: the selection
        when that card is part of it, or for a key when other cards are selected (the focused
        card was just Ctrl+clicked out of it); else that card alone, which becomes the
        selection."""
        card = card if card is not None else self._card_of(path)
        chosen = self.selected_cards()
        if card is not None and (card.selected or (key and chosen)):
            paths = [c.result["path"] for c in chosen if not c.result.get("error")]
        else:
            if card is not None:
                self.select_cards([card])
            paths = [path]
        return [p for p in paths if Path(p).is_file()]

    def _split(self, paths: list[str]) -> tuple[str, list[str], list[str]]:
        """(the data set, the photos already in it, the photos from elsewhere)."""
        root = self.data_root()
        mine = same_file(root) if root else None
        inside: list[str] = []
        outside: list[str] = []
        for p in paths:
            (inside if mine is not None and data_set_of(p) == mine else outside).append(p)
        return root, inside, outside

    # ------------------------------------------------------------------ menu and keys
    @Slot(str, QPoint)
    def _card_menu(self, path: str, pos: QPoint) -> None:
        menu = self.card_menu(path, self.sender())  # type: ignore[attr-defined]
        menu.exec(pos)

    def card_menu(self, path: str, card: Any = None) -> QMenu:
        """The right-click menu of the card of ``path`` (``card``, when the same photo is
        shown twice), for the selection it is part of."""
        menu = QMenu(self)  # type: ignore[arg-type]
        targets = self._targets(path, card) if self.edits is not None else []
        root, inside, outside = self._split(targets)
        if len(targets) > 1:
            mixed = (f": {len(inside)} in the data set, {len(outside)} from elsewhere"
                     if inside and outside else "")
            menu.addAction(f"{len(targets)} photos selected{mixed}").setEnabled(False)
        menu.addAction("Open", lambda: open_path(path))
        menu.addAction("Show in folder", lambda: open_path(str(Path(path).parent)))
        if targets:
            menu.addSeparator()
            if inside and outside:  # all of them, as one action (as the digit keys do)
                self.edits.class_menu(
                    menu, f"File all {len(targets)} into class", root,
                    lambda name: self.edits.file(inside, outside, root, name),
                ).setObjectName("file_menu")
            if inside:
                self.edits.fill_menu(menu, inside, root, inside=True)
            if outside:
                self.edits.fill_menu(menu, outside, root, inside=False)
        return menu

    @Slot(str, QKeyEvent)
    def _card_key(self, path: str, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.SelectAll):
            self.select_cards(list(self.cards))
            event.accept()
            return
        if event.key() == Qt.Key.Key_Escape and self.selected_cards():
            self.select_cards([])
            event.accept()
            return
        if self.edits is None:
            return
        targets = self._targets(path, self.sender(), key=True)  # type: ignore[attr-defined]
        if not targets:
            return
        root, inside, outside = self._split(targets)
        if self.edits.handle_key(event, root, inside=inside, outside=outside):
            event.accept()

    @Slot(str, object)
    def _data_changed(self, root: str, action: Any) -> None:
        """A card follows its photo: moved within the data set, or copied into it (so the next
        key moves that copy instead of making another); an undo takes it back."""
        moved = dict(action.files)
        copied = {src for i, (src, _) in enumerate(action.files) if action.copied(i)}
        for card in self.cards:
            here = same_file(card.result["path"])
            if here in moved and moved[here] != here:
                if here in copied:
                    card.result.setdefault("origin", card.result["path"])
                card.result["path"] = moved[here]
            elif not Path(here).exists() and card.result.get("origin"):
                card.result["path"] = card.result.pop("origin")  # its copy was undone
