"""Files shipped inside the package: one home for where they are.

The same paths hold in a source checkout, a pip install (they are package data) and the app
bundle (``scripts/build_app.py`` copies the folder beside the frozen modules).
"""

from __future__ import annotations

from pathlib import Path

ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets"
#: The app's name wherever the system files it: the desktop entry, its icon, the window class.
APP_ID = "resnet-gui"
ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)


def demo_data_dir() -> Path:
    """The bundled demo data set: 300 handwritten digits, one folder per class."""
    return ASSETS_DIR / "demo"


def demo_photos_dir() -> Path:
    """A few digits that are not in the demo data set, to try the Inference tab on."""
    return ASSETS_DIR / "demo_photos"


def imagenet_classes_file() -> Path:
    """The 1000 ImageNet class names, one per line."""
    return ASSETS_DIR / "imagenet_classes.txt"


def icon_file(size: int | None = None) -> Path:
    """The app icon: the SVG (no size) or the PNG of ``size`` pixels (one of ``ICON_SIZES``)."""
    if size is None:
        return ASSETS_DIR / "icons" / "resnet-gui.svg"
    if size not in ICON_SIZES:
        raise ValueError(f"no {size} px icon; sizes: {ICON_SIZES}")
    return ASSETS_DIR / "icons" / f"resnet-gui-{size}.png"
