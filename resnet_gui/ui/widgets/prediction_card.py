"""One photo's result: thumbnail, file name, top-k labels with probability bars."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import (
    QContextMenuEvent,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPalette,
    QPixmap,
)
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

THUMB = 96


def pixmap_from_array(arr: np.ndarray) -> QPixmap:
    """A QPixmap from an (H, W, 3) uint8 RGB array (copied: the array may go away)."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    h, w = arr.shape[:2]
    image = QImage(arr.data, w, h, 3 * w, QImage.Format.Format_RGB888)
    return QPixmap.fromImage(image.copy())


class PredictionCard(QFrame):
    """Shows a result dict as made by ``predict_work`` (path, predictions, error, thumbnail).

    The thumbnail can switch to a Grad-CAM overlay (:meth:`set_overlay`, :meth:`show_overlay`);
    a double-click emits ``activated`` with the photo's path, a right-click ``menu_requested``
    (path, global position), a key press while it has focus ``key_pressed`` (path, event) and
    a left click ``clicked`` (this card, the keyboard modifiers), by which the tab selects
    cards (:meth:`set_selected`).
    """

    activated = Signal(str)
    menu_requested = Signal(str, QPoint)
    key_pressed = Signal(str, QKeyEvent)
    clicked = Signal(object, object)

    def __init__(self, result: dict, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result = result
        self.overlay: np.ndarray | None = None
        self._showing_overlay = False
        self.selected = False
        self.setObjectName("predictionCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "#predictionCard { background: palette(base); border: 1px solid palette(mid);"
            " border-radius: 6px; }"
            " #predictionCard:focus { border: 2px solid palette(highlight); }"
            f" #predictionCard[selected=\"true\"] {{ background: {self._tint()};"
            " border: 2px solid palette(highlight); }"
        )
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(8, 8, 8, 8)
        thumb = QLabel()
        self.thumb = thumb
        thumb.setFixedSize(THUMB, THUMB)
        thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        if result.get("thumbnail") is not None:
            self._set_thumb(result["thumbnail"])
            if not result.get("error"):
                self.setToolTip("Double-click to see where the model looked")
        else:
            thumb.setText("✕")
            thumb.setStyleSheet("color: #b00; font-size: 28px;")
        outer.addWidget(thumb)
        body = QVBoxLayout()
        name = QLabel(Path(result["path"]).name)
        name.setToolTip(result["path"])
        name.setStyleSheet("font-weight: 600;")
        body.addWidget(name)
        self.bars: list[QProgressBar] = []
        if result.get("error"):
            err = QLabel(f"Cannot classify: {result['error']}")
            err.setWordWrap(True)
            err.setStyleSheet("color: #b00;")
            body.addWidget(err)
        else:
            if result.get("uncertain"):
                unsure = QLabel("Uncertain: below the minimum confidence")
                unsure.setObjectName("uncertainLabel")
                unsure.setStyleSheet("color: #b26b00; font-weight: 600;")
                body.addWidget(unsure)
            grid = QGridLayout()
            for row, p in enumerate(result["predictions"]):
                label = QLabel(p["label"])
                bar = QProgressBar()
                bar.setRange(0, 1000)
                bar.setValue(int(round(p["probability"] * 1000)))
                bar.setFormat(f"{p['probability']:.1%}")
                bar.setTextVisible(True)
                bar.setFixedHeight(16)
                top = "#d9961a" if result.get("uncertain") else "#2b7bd6"
                color = top if row == 0 else "#a9c4e4"
                bar.setStyleSheet(
                    f"QProgressBar {{ border: 1px solid #bbb; border-radius: 3px; "
                    f"text-align: center; }} QProgressBar::chunk {{ background: {color}; }}"
                )
                if row == 0:
                    label.setStyleSheet("font-weight: 700;")
                grid.addWidget(label, row, 0)
                grid.addWidget(bar, row, 1)
                self.bars.append(bar)
            grid.setColumnStretch(1, 1)
            body.addLayout(grid)
        body.addStretch(1)
        outer.addLayout(body, 1)

    def _set_thumb(self, arr: np.ndarray) -> None:
        # Small images are shown enlarged to the card's thumbnail size, large ones shrunk.
        self.thumb.setPixmap(pixmap_from_array(arr).scaled(
            THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        ))

    def set_overlay(self, arr: np.ndarray | None) -> None:
        """Keep the Grad-CAM overlay thumbnail (shown while :meth:`show_overlay` is on)."""
        self.overlay = arr
        self.show_overlay(self._showing_overlay)

    def show_overlay(self, on: bool) -> None:
        """Show the overlay (when there is one) or the plain thumbnail."""
        self._showing_overlay = on
        arr = self.overlay if on and self.overlay is not None else self.result.get("thumbnail")
        if arr is not None:
            self._set_thumb(arr)

    @property
    def showing_overlay(self) -> bool:
        """True while the thumbnail shows the Grad-CAM overlay."""
        return self._showing_overlay and self.overlay is not None

    def _tint(self) -> str:
        """A selected card's background: a quarter of the highlight colour over the base one
        (light on a light theme, dark on a dark one, so the text stays readable)."""
        palette = self.palette()
        base = palette.color(QPalette.ColorRole.Base)
        high = palette.color(QPalette.ColorRole.Highlight)
        mix = [round(0.75 * b + 0.25 * h) for b, h in
               zip(base.getRgb()[:3], high.getRgb()[:3], strict=True)]
        return "#{:02x}{:02x}{:02x}".format(*mix)

    def set_selected(self, on: bool) -> None:
        """Show the card as selected (part of the photos the menu and keys act on) or not."""
        if on == self.selected:
            return
        self.selected = on
        self.setProperty("selected", on)
        self.style().unpolish(self)  # a dynamic property: the style sheet is applied again
        self.style().polish(self)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt API
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self, event.modifiers())
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: object) -> None:  # noqa: N802 - Qt API
        if not self.result.get("error"):
            self.activated.emit(self.result["path"])

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # noqa: N802 - Qt API
        self.menu_requested.emit(self.result["path"], event.globalPos())

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt API
        event.ignore()  # a slot that uses the key accepts it
        self.key_pressed.emit(self.result["path"], event)
        if not event.isAccepted():
            super().keyPressEvent(event)

    @property
    def top_label(self) -> str | None:
        """The most likely label, or None for an error card."""
        preds = self.result.get("predictions") or []
        return preds[0]["label"] if preds else None
