"""Write the bundled demo data: real handwritten digits from scikit-learn, as PNG class folders.

The digits are the UCI "Optical Recognition of Handwritten Digits" set (Alpaydin & Kaynak,
CC BY 4.0) that scikit-learn ships; each 8x8 scan is scaled up to 32x32 pixels.

    python scripts/make_demo_data.py   # writes resnet_gui/assets/demo/ and demo_photos/
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

ROOT = Path(__file__).resolve().parents[1] / "resnet_gui" / "assets"
NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def main(per_class: int = 30, extra: int = 2) -> None:
    digits = load_digits()
    for c, name in enumerate(NAMES):
        idx = np.flatnonzero(digits.target == c)
        folder = ROOT / "demo" / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in idx[:per_class]:
            img = (digits.images[i] * (255 / 16)).astype(np.uint8)
            Image.fromarray(img).resize((32, 32), Image.Resampling.BILINEAR).save(
                folder / f"{name}_{i:04d}.png", optimize=True
            )
        # A few held-back images to drop on the Inference tab.
        held = ROOT / "demo_photos"
        held.mkdir(parents=True, exist_ok=True)
        for i in idx[per_class : per_class + extra]:
            img = (digits.images[i] * (255 / 16)).astype(np.uint8)
            Image.fromarray(img).resize((32, 32), Image.Resampling.BILINEAR).save(
                held / f"{name}_{i:04d}.png", optimize=True
            )


if __name__ == "__main__":
    main()
