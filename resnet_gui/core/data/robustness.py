"""Corrupted copies of images, made in memory, for the robustness report.

The idea of ImageNet-C (Hendrycks & Dietterich 2019): measure accuracy again on images made
worse in the ways real photos are worse. One fixed, documented severity per corruption (see
docs/evaluation.md), applied to the decoded image at the model's input size, so the cost is one
more forward pass per corruption. Pure NumPy and Pillow; seeded, so reports repeat.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageFilter


def _blur(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    radius = max(1.0, img.shape[0] / 75)  # 3 px at 224 px, 1 px at 32-75 px
    return np.asarray(Image.fromarray(img).filter(ImageFilter.GaussianBlur(radius)))


def _darker(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (img.astype(np.float32) * 0.5).round().astype(np.uint8)  # half the light


def _brighter(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    # Half-way to white: highlights wash out, as in an over-exposed photo.
    return (255 - (255 - img.astype(np.float32)) * 0.5).round().astype(np.uint8)


def _jpeg(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=10)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _noise(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noisy = img.astype(np.float32) + rng.normal(0.0, 0.1 * 255, img.shape)
    return np.clip(noisy, 0, 255).round().astype(np.uint8)


def _rotate(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    fill = tuple(int(v) for v in img.reshape(-1, 3).mean(axis=0))  # corners: the mean colour
    return np.asarray(
        Image.fromarray(img).rotate(15, resample=Image.Resampling.BILINEAR, fillcolor=fill)
    )


#: name -> (function, what it does): the corruptions, in report order.
CORRUPTIONS: dict[str, tuple[Callable[[np.ndarray, np.random.Generator], np.ndarray], str]] = {
    "blur": (_blur, "Gaussian blur, radius max(1, side/75) px"),
    "darker": (_darker, "brightness x 0.5"),
    "brighter": (_brighter, "half-way to white"),
    "jpeg": (_jpeg, "JPEG at quality 10"),
    "noise": (_noise, "Gaussian noise, sigma 10% of the range (25.5)"),
    "rotate": (_rotate, "rotated 15 degrees, corners filled with the mean colour"),
}


def corrupt(images: np.ndarray, name: str, seed: int = 0) -> np.ndarray:
    """A corrupted copy of a (N, H, W, 3) uint8 batch.

    Raises:
        KeyError: an unknown corruption name.
    """
    fn = CORRUPTIONS[name][0]
    rng = np.random.default_rng(seed)
    return np.stack([fn(np.ascontiguousarray(img), rng) for img in images]) if len(images) \
        else images.copy()
