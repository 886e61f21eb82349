"""The ONE image decoder, used by the scan, training, inference and the GUI thumbnails.

Pillow does the work: EXIF orientation is applied, every mode becomes 8-bit RGB, animated images
give their first frame, and a pixel-count guard turns a decompression bomb into a per-file error
before any pixel is decoded.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from resnet_gui.core.base.errors import ImageError

#: Lower-case file extensions that are treated as images.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})

#: Largest image accepted, in pixels (about 8k x 8k). Larger ones are refused unread.
MAX_PIXELS = 64_000_000

# Reasons, as shown in scan reports and prediction errors.
REASON_EMPTY = "empty file"
REASON_NOT_IMAGE = "not an image"
REASON_TRUNCATED = "truncated"
REASON_TOO_LARGE = "too large"
REASON_UNREADABLE = "unreadable"



def configure_pillow() -> None:
    """Pillow's process-wide settings, applied once at start-up (the command line, the app and
    the training child call it; a script using the core may too).

    We enforce our own limit on what is decoded (a large JPEG is decoded reduced, so it
    passes); Pillow's own bomb check stays as a backstop for the error, its warning is ours to
    give.
    """
    Image.MAX_IMAGE_PIXELS = max(Image.MAX_IMAGE_PIXELS or 0, MAX_PIXELS)
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


def is_hidden(path: str | os.PathLike[str]) -> bool:
    """True for names starting with '.', such as macOS ``._photo.jpg`` resource forks."""
    return Path(path).name.startswith(".")


def has_image_extension(path: str | os.PathLike[str]) -> bool:
    """True when the file's extension (any case) is one of :data:`IMAGE_EXTENSIONS`."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def is_image_candidate(path: str | os.PathLike[str]) -> bool:
    """True for a visible file with an image extension: what a scan tries to decode."""
    return has_image_extension(path) and not is_hidden(path)


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB; transparency is composited onto white."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # 16-bit and float images: scale the real range to 0..255 instead of clipping.
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        if mode.startswith("I;16"):
            lo, hi = 0.0, 65535.0
        scaled = np.zeros_like(arr) if hi <= lo else (arr - lo) * (255.0 / (hi - lo))
        gray = np.clip(scaled + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    if mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def _open_header(label: str, source: str | os.PathLike[str] | bytes,
                 max_pixels: int) -> Image.Image:
    """The file read and its header parsed by Pillow (nothing decoded yet).

    Raises:
        ImageError: unreadable, empty, not an image, or too many pixels.
    """
    try:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
    except OSError as exc:
        raise ImageError(label, REASON_UNREADABLE, exc.strerror or str(exc)) from None
    if not data:
        raise ImageError(label, REASON_EMPTY)
    try:
        return Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageError(label, REASON_NOT_IMAGE, "Pillow cannot identify the format") from None
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size_text = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise ImageError(label, REASON_TOO_LARGE, f"{size_text}, limit {max_pixels:,}") from None
    except Exception as exc:  # noqa: BLE001 - any header failure means the file is unusable
        raise ImageError(label, REASON_NOT_IMAGE, str(exc)) from None


#: The EXIF tag that says how to turn the stored pixels upright (5-8: a quarter turn).
_ORIENTATION = 0x0112


def _decode_upright(label: str, img: Image.Image, size: int | None) -> tuple[Image.Image, bool]:
    """Decode frame 0 fully, apply the EXIF orientation, convert to RGB and resize to
    ``size`` (if given); True when the orientation turned the image by 90 degrees.

    Raises:
        ImageError: truncated, too large or unreadable data.
    """
    try:
        if getattr(img, "n_frames", 1) > 1:
            img.seek(0)
        img.load()
        turned = img.getexif().get(_ORIENTATION, 1) in (5, 6, 7, 8)  # a quarter turn
        upright = _to_rgb(ImageOps.exif_transpose(img))
        return (resize_square(upright, size) if size is not None else upright), turned
    except Image.DecompressionBombError as exc:
        raise ImageError(label, REASON_TOO_LARGE, str(exc)) from None
    except OSError as exc:
        text = str(exc)
        reason = REASON_TRUNCATED if "truncated" in text or "broken data" in text else REASON_UNREADABLE
        raise ImageError(label, reason, text) from None
    except (SyntaxError, ValueError, EOFError, MemoryError) as exc:
        raise ImageError(label, REASON_UNREADABLE, str(exc) or type(exc).__name__) from None


def open_image(
    source: str | os.PathLike[str] | bytes,
    *,
    size: int | None = None,
    max_pixels: int = MAX_PIXELS,
    name: str | None = None,
    draft: int | None = None,
) -> Image.Image:
    """Decode an image file fully and return an upright RGB Pillow image.

    Args:
        source: a path, or the file's bytes.
        size: when given, the result is resized to ``size x size`` (bilinear, anti-aliased);
            JPEGs are then decoded at a reduced scale first, which is much faster.
        max_pixels: images with more pixels than this are refused before decoding (for a JPEG,
            counted at the reduced scale it is decoded at).
        name: the name used in error messages when ``source`` is bytes.
        draft: without resizing, let JPEGs decode at a reduced scale that stays at least this
            many pixels on each side (what thumbnails and small models need).

    Returns:
        An RGB image with EXIF orientation applied (frame 0 of an animation).

    Raises:
        ImageError: the file is empty, not an image, truncated, too large or unreadable.
    """
    label = name or (str(source) if not isinstance(source, bytes) else "<bytes>")
    img = _open_header(label, source, max_pixels)
    source_size = img.size
    want = size or draft
    if want is not None and img.format == "JPEG":
        # Let libjpeg decode at 1/2, 1/4 or 1/8 scale when the target is that small: a
        # 12000x9000 photo wanted at 224 px is decoded at 1500x1125, never at full size.
        img.draft("RGB", (want, want))
    width, height = img.size
    if width * height > max_pixels:
        raise ImageError(
            label, REASON_TOO_LARGE, f"{width}x{height} pixels, limit {max_pixels:,}"
        )
    if width == 0 or height == 0:
        raise ImageError(label, REASON_NOT_IMAGE, "zero-sized image")
    img, turned = _decode_upright(label, img, size)
    if turned:  # by EXIF: the upright size swaps too
        source_size = (source_size[1], source_size[0])
    img.info["source_size"] = source_size  # the upright size in the file, before any draft
    return img


def resize_square(img: Image.Image, size: int) -> Image.Image:
    """Resize to ``size x size`` (bilinear, anti-aliased): the one resize used everywhere."""
    if img.size == (size, size):
        return img
    return img.resize((size, size), Image.Resampling.BILINEAR)


def load_image(
    source: str | os.PathLike[str] | bytes,
    size: int | None = None,
    *,
    max_pixels: int = MAX_PIXELS,
    name: str | None = None,
) -> np.ndarray:
    """Decode an image to an ``(H, W, 3)`` uint8 RGB array (``size x size`` when size is given).

    Raises:
        ImageError: see :func:`open_image`.
    """
    img = open_image(source, size=size, max_pixels=max_pixels, name=name)
    return np.asarray(img, dtype=np.uint8)


def expand_inputs(items: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Files stay as given; folders become their image files (recursively, sorted)."""
    out: list[str] = []
    for item in items:
        p = Path(item).expanduser()
        if p.is_dir():
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                out.extend(
                    str(Path(dirpath) / f) for f in sorted(filenames) if is_image_candidate(f)
                )
        else:
            out.append(str(p))
    return out
