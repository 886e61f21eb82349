"""Builders of the awkward files users really have: broken, exotic modes and formats, rotated."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from tests.conftest import photo


def huge_png_header(path: Path, width: int = 30000, height: int = 30000) -> Path:
    """A small PNG whose header claims ``width x height`` pixels (a decompression bomb)."""
    Image.new("L", (4, 4)).save(path)
    data = bytearray(path.read_bytes())
    # IHDR starts at byte 8: length(4) 'IHDR'(4) width(4) height(4) ...; fix its CRC after.
    data[16:24] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF
    data[29:33] = struct.pack(">I", crc)
    path.write_bytes(bytes(data))
    return path


def write_bad_and_odd(folder: Path) -> dict[str, Path]:
    """Write one file of each kind into ``folder``; returns {kind: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    img = photo(64)
    files: dict[str, Path] = {}

    good = folder / "good.jpg"
    img.save(good, quality=90)
    files["good_jpeg"] = good
    trunc = folder / "truncated.jpg"
    trunc.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    files["truncated"] = trunc
    empty = folder / "empty.jpg"
    empty.write_bytes(b"")
    files["empty"] = empty
    text = folder / "notes.jpg"
    text.write_text("this is not a picture\n")
    files["text"] = text
    apple = folder / "._photo.jpg"
    apple.write_bytes(b"\x00\x05\x16\x07" + b"\x00" * 60)
    files["appledouble"] = apple
    files["huge"] = huge_png_header(folder / "huge.png")
    cmyk = folder / "cmyk.jpg"
    img.convert("CMYK").save(cmyk)
    files["cmyk"] = cmyk
    rgba = folder / "rgba.png"
    a = img.convert("RGBA")
    a.putalpha(128)
    a.save(rgba)
    files["rgba"] = rgba
    g16 = folder / "gray16.png"
    Image.fromarray(np.asarray(img.convert("L"), np.uint16) * 257).save(g16)
    files["gray16"] = g16
    gif = folder / "palette.gif"
    img.convert("P", palette=Image.Palette.ADAPTIVE).save(gif)
    files["gif"] = gif
    webp = folder / "photo.webp"
    img.save(webp)
    files["webp"] = webp
    tif = folder / "photo.tif"
    img.save(tif)
    files["tiff"] = tif
    bmp = folder / "photo.bmp"
    img.save(bmp)
    files["bmp"] = bmp
    upper = folder / "UPPER.JPG"
    img.save(upper)
    files["upper"] = upper
    uni = folder / "фото_日本.png"
    img.save(uni)
    files["unicode"] = uni
    return files


def exif_rotated_pair(folder: Path, size: int = 64) -> tuple[Path, Path]:
    """An upright photo and its twin stored rotated with an EXIF tag saying how to turn it back."""
    folder.mkdir(parents=True, exist_ok=True)
    img = photo(size, "flower")
    upright = folder / "upright.png"
    img.save(upright)
    rotated = folder / "rotated.png"
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation 6: the viewer must rotate 90 degrees clockwise
    # Stored pixels are the upright image turned 90 degrees counter-clockwise.
    img.transpose(Image.Transpose.ROTATE_90).save(rotated, exif=exif)
    return upright, rotated
