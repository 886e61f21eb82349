"""The one decoder: every odd and broken file behaves as documented."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from resnet_gui.core.base.errors import ImageError
from resnet_gui.core.data.images import is_image_candidate, load_image
from tests.core.badfiles import exif_rotated_pair, write_bad_and_odd


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_bad_and_odd(tmp_path_factory.mktemp("odd"))


@pytest.mark.parametrize(
    "kind", ["good_jpeg", "cmyk", "rgba", "gray16", "gif", "webp", "tiff", "bmp", "upper", "unicode"]
)
def test_valid_files_decode_to_rgb(files: dict[str, Path], kind: str) -> None:
    arr = load_image(files[kind])
    assert arr.dtype == np.uint8 and arr.shape == (64, 64, 3)
    # A real photo has real content: not a blank or saturated image.
    assert 20 < arr.mean() < 235 and arr.std() > 10


def test_sixteen_bit_is_scaled_not_clipped(files: dict[str, Path]) -> None:
    gray = load_image(files["gray16"])
    ref = load_image(files["good_jpeg"]).mean(axis=2)
    assert abs(gray[..., 0].astype(float).mean() - ref.mean()) < 12


def test_rgba_composited_on_white(files: dict[str, Path]) -> None:
    # 50% alpha over white is lighter than the photo itself.
    assert load_image(files["rgba"]).mean() > load_image(files["good_jpeg"]).mean() + 20


@pytest.mark.parametrize(
    ("kind", "reason"),
    [("truncated", "truncated"), ("empty", "empty file"), ("text", "not an image"),
     ("huge", "too large")],
)
def test_broken_files_raise_named_errors(files: dict[str, Path], kind: str, reason: str) -> None:
    with pytest.raises(ImageError) as info:
        load_image(files[kind])
    assert info.value.reason == reason
    assert str(files[kind]) in str(info.value)


def test_candidates_skip_hidden_and_match_case() -> None:
    assert is_image_candidate("a/UPPER.JPG") and is_image_candidate("x.TIFF")
    assert not is_image_candidate("a/._photo.jpg") and not is_image_candidate(".hidden.png")
    assert not is_image_candidate("notes.txt")


def test_resize_to_square(files: dict[str, Path]) -> None:
    assert load_image(files["good_jpeg"], 40).shape == (40, 40, 3)


def test_exif_rotation_applied(tmp_path: Path) -> None:
    upright, rotated = exif_rotated_pair(tmp_path)
    a = load_image(upright).astype(int)
    b = load_image(rotated).astype(int)
    assert a.shape == b.shape
    assert np.abs(a - b).max() == 0


def test_source_size_is_the_upright_size(tmp_path: Path) -> None:
    """A 60x40 photo stored turned (40x60) with an EXIF orientation: the size reported (what
    the scan shows) is the upright one, with or without resizing."""
    from PIL import Image

    from resnet_gui.core.data.images import open_image

    exif = Image.Exif()
    exif[0x0112] = 6
    stored = tmp_path / "turned.jpg"
    Image.new("RGB", (60, 40), (200, 30, 30)).transpose(Image.Transpose.ROTATE_90).save(
        stored, exif=exif)
    assert Image.open(stored).size == (40, 60)
    assert open_image(stored).size == (60, 40)
    for size in (None, 32):
        assert open_image(stored, size=size).info["source_size"] == (60, 40), size


def test_a_12000x9000_jpeg_is_decoded_reduced_not_refused(tmp_path: Path) -> None:
    from PIL import Image

    from resnet_gui.core.data.dataset import scan_dataset
    from resnet_gui.core.data.images import MAX_PIXELS, open_image

    big = Image.new("RGB", (12000, 9000), (120, 80, 40))
    big.paste((10, 200, 30), (3000, 2000, 9000, 7000))
    (tmp_path / "data" / "a").mkdir(parents=True)
    (tmp_path / "data" / "b").mkdir(parents=True)
    path = tmp_path / "data" / "a" / "huge.jpg"
    big.save(path, quality=80)
    del big
    assert 12000 * 9000 > MAX_PIXELS  # at full size it would be refused
    arr = load_image(path, 224)
    assert arr.shape == (224, 224, 3) and tuple(arr[112, 112]) == pytest.approx((10, 200, 30),
                                                                                 abs=6)
    thumb = open_image(path, draft=512)
    assert thumb.size == (1500, 1125)  # libjpeg decoded it at 1/8 scale
    assert thumb.info["source_size"] == (12000, 9000)
    Image.new("RGB", (40, 30)).save(tmp_path / "data" / "b" / "small.jpg")
    report = scan_dataset(tmp_path / "data")
    assert not report.unusable
    assert {(r.width, r.height) for r in report.images} == {(12000, 9000), (40, 30)}


def test_pillow_settings_change_only_when_asked() -> None:
    """Importing the decoder leaves Pillow's process-wide settings alone; start-up applies them."""
    code = (
        "from PIL import Image\n"
        "Image.MAX_IMAGE_PIXELS = 1000\n"
        "import resnet_gui.core.data.images as images\n"
        "assert Image.MAX_IMAGE_PIXELS == 1000, 'changed on import'\n"
        "images.configure_pillow()\n"
        "assert Image.MAX_IMAGE_PIXELS == images.MAX_PIXELS\n"
    )
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
