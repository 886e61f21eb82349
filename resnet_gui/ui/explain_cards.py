"""The inference tab's "Show where it looked": Grad-CAM overlays on its cards, a larger view."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QMessageBox

from resnet_gui.ui.model_dialogs import ExplainView
from resnet_gui.ui.workers import explain_work


class ExplainCards:
    """Mixin for the inference tab. Expects ``pool``, ``classifier``, ``cards``,
    ``explain_box`` (the toggle), ``explain_worker`` and a ``status`` signal on the host."""

    pool: Any
    classifier: Any
    cards: list
    explain_box: Any
    explain_worker: Any
    status: Any
    _overlays_ready: Any  # the tab's slots for the Grad-CAM worker (they call the methods below)
    _explain_failed: Any
    _explain_done: Any

    @Slot(bool)
    def _explain_toggled(self, on: bool) -> None:
        for card in self.cards:
            card.show_overlay(on)
        if on:
            self._start_explain()

    def _start_explain(self) -> None:
        if self.explain_worker is not None or self.classifier is None:
            return
        todo = [c.result["path"] for c in self.cards
                if c.overlay is None and not c.result.get("error")]
        if not todo:
            return
        self.status.emit(f"Computing where the model looked for {len(todo)} photo(s)…")
        self.explain_worker = self.pool.submit(
            explain_work(self.classifier, todo), name="explain",
            connect={"progressed": self._overlays_ready, "errored": self._explain_failed,
                     "returned": self._explain_done},
        )

    def _take_overlays(self, payload: tuple) -> None:
        """Heat-maps of a batch of cards (the tab's slot ``_overlays_ready`` calls this)."""
        key, batch = payload
        if key != id(self.classifier):  # a run for a model no longer loaded
            return
        arrays = dict(batch)
        for card in self.cards:
            arr = arrays.get(card.result["path"])
            if arr is not None and card.overlay is None:
                card.set_overlay(arr)

    def _explain_error(self, message: str, tb: str) -> None:
        """The Grad-CAM run failed (the tab's slot ``_explain_failed`` calls this)."""
        self.explain_worker = None
        self.explain_box.setChecked(False)
        QMessageBox.warning(self, "Cannot show where the model looked", message)

    def _explain_end(self, key: int) -> None:
        """The Grad-CAM run ended (the tab's slot ``_explain_done`` calls this)."""
        if key != id(self.classifier):  # the run of a model replaced since
            return
        self.explain_worker = None
        if self.explain_box.isChecked():
            self.status.emit("Bright regions: what raised the predicted class's score (Grad-CAM)")
        if self.explain_box.isChecked() and any(
            c.overlay is None and not c.result.get("error") for c in self.cards
        ):
            self._start_explain()  # cards added while this run was busy

    @Slot(str)
    def show_explanation(self, path: str) -> None:
        """A larger view of one photo with its heat-map and an opacity slider."""
        if self.classifier is not None:
            ExplainView(self.pool, self.classifier, path, self).open()
