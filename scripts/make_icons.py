"""Render the app icon's PNG sizes from its SVG (``resnet_gui/assets/icons``).

    QT_QPA_PLATFORM=offscreen python scripts/make_icons.py
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

from resnet_gui.core.base.assets import ICON_SIZES, icon_file


def main() -> None:
    """Write ``resnet-gui-<size>.png`` beside the SVG for every size the desktop asks for."""
    app = QGuiApplication.instance() or QGuiApplication([])  # noqa: F841 - fonts need an app
    renderer = QSvgRenderer(str(icon_file()))
    if not renderer.isValid():
        raise SystemExit(f"cannot read {icon_file()}")
    for size in ICON_SIZES:
        image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
        painter.end()
        image.save(str(icon_file(size)))
        print(icon_file(size))


if __name__ == "__main__":
    main()
