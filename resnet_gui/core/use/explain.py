"""Where the model looked: Grad-CAM heat-maps and their overlays on the photo.

Grad-CAM (Selvaraju et al. 2017) weights each channel of the last convolutional feature map by
the mean gradient of the class score over it, sums the channels and keeps the positive part. The
class score is the pre-softmax value (the softmax saturates near 1 and would flatten the map).
The map has the feature map's resolution (image size / 32 for the ResNets here) and is resized
to the photo's upright size; the model saw the photo squashed to a square, so the map is
stretched back the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from resnet_gui.core.base.atomic import replacing
from resnet_gui.core.base.errors import ImageError, InputError
from resnet_gui.core.data.images import open_image, resize_square
from resnet_gui.core.model.files import scale_pixels

if TYPE_CHECKING:
    from resnet_gui.core.use.inference import Classifier

#: Anchor colours of a perceptually uniform map (dark purple -> red -> yellow, as matplotlib's
#: "inferno"); lightness rises monotonically, so hot reads as bright in colour and in grey.
_COLOUR_STOPS = np.array(
    [
        (0, 0, 4), (22, 11, 57), (66, 10, 104), (106, 23, 110), (147, 38, 103),
        (188, 55, 84), (221, 81, 58), (243, 120, 25), (252, 165, 10), (246, 215, 70),
        (252, 255, 164),
    ],
    dtype=np.float32,
)

#: How strongly the colour map covers the photo by default.
DEFAULT_OPACITY = 0.5


def class_index(classifier: Classifier, label: str | None) -> int | None:
    """The output index of ``label`` (None: explain the top class).

    Raises:
        InputError: the model has no such class.
    """
    if label is None:
        return None
    try:
        return classifier.class_names.index(label)
    except ValueError:
        raise InputError(
            f"the model has no class {label!r}; its classes: {', '.join(classifier.class_names)}"
        ) from None


def grad_cam(
    classifier: Classifier, images: np.ndarray, classes: Sequence[int | None] | None = None
) -> tuple[np.ndarray, list[int]]:
    """Low-resolution Grad-CAM maps for a batch of square RGB uint8 images of the model's size.

    Args:
        classifier: the model.
        images: (N, S, S, 3) with S the model's image size.
        classes: the class to explain per image (None or a None entry: the top class).

    Returns:
        ((N, h, w) maps scaled to [0, 1] per image, the class index explained for each).
    """
    from resnet_gui.core.base.tfsetup import import_tensorflow

    tf = import_tensorflow()
    chain = classifier.chain()
    x = tf.convert_to_tensor(scale_pixels(images, classifier.input_scale))
    with tf.GradientTape() as tape:
        features = chain.run_features(x)
        tape.watch(features)
        scores = chain.run_head(features, logits=True)
        chosen = [
            int(np.argmax(scores[i])) if classes is None or classes[i] is None else int(classes[i])
            for i in range(len(images))
        ]
        mask = tf.one_hot(chosen, int(scores.shape[-1]), dtype=scores.dtype)
        target = tf.reduce_sum(scores * mask)
    grads = tape.gradient(target, features)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    cam = tf.nn.relu(tf.reduce_sum(weights * features, axis=-1)).numpy()
    peak = cam.reshape(len(cam), -1).max(axis=1).reshape(-1, 1, 1)
    cam = np.where(peak > 0, cam / np.maximum(peak, 1e-12), 0.0).astype(np.float32)
    return cam, chosen


def upsample(cam: np.ndarray, width: int, height: int) -> np.ndarray:
    """A map resized (bilinear) to ``width x height``, scaled so that its peak is 1 again."""
    img = Image.fromarray(np.asarray(cam, np.float32))
    out = np.clip(np.asarray(img.resize((width, height), Image.Resampling.BILINEAR)), 0.0, None)
    peak = float(out.max())
    return (out / peak if peak > 0 else out).astype(np.float32)


def explain(
    classifier: Classifier,
    image: str | os.PathLike[str] | np.ndarray | Image.Image,
    label: str | None = None,
) -> np.ndarray:
    """Grad-CAM heat-map of ``image`` for ``label`` (None: the predicted class).

    Args:
        classifier: the model.
        image: a file (decoded upright by the app's decoder), an RGB array or a Pillow image.
        label: a class name of the model.

    Returns:
        An (H, W) float32 array in [0, 1] at the image's upright size; 1 where the class
        evidence is strongest.

    Raises:
        ImageError: the file cannot be decoded.
        InputError: the model has no class ``label``.
        ModelFileError: the model's layers do not allow Grad-CAM.
    """
    index = class_index(classifier, label)
    pil = _as_image(image)
    square = np.asarray(resize_square(pil, classifier.image_size), np.uint8)
    cam, _ = grad_cam(classifier, square[None], [index])
    return upsample(cam[0], pil.width, pil.height)


def _as_image(image: str | os.PathLike[str] | np.ndarray | Image.Image) -> Image.Image:
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, np.ndarray):
        return Image.fromarray(np.asarray(image, np.uint8)).convert("RGB")
    return open_image(image)


def colourise(heat: np.ndarray) -> np.ndarray:
    """A heat-map in [0, 1] as RGB uint8 through the perceptual colour map."""
    t = np.clip(np.asarray(heat, np.float32), 0.0, 1.0) * (len(_COLOUR_STOPS) - 1)
    low = np.floor(t).astype(int)
    high = np.minimum(low + 1, len(_COLOUR_STOPS) - 1)
    frac = (t - low)[..., None]
    rgb = _COLOUR_STOPS[low] * (1 - frac) + _COLOUR_STOPS[high] * frac
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


def overlay(photo: np.ndarray, heat: np.ndarray, opacity: float = DEFAULT_OPACITY) -> np.ndarray:
    """The colourised heat-map blended over an RGB uint8 photo (resized to the photo's size)."""
    photo = np.asarray(photo, np.uint8)
    h, w = photo.shape[:2]
    if heat.shape != (h, w):
        heat = upsample(heat, w, h)
    colour = colourise(heat).astype(np.float32)
    a = float(np.clip(opacity, 0.0, 1.0))
    return np.clip(photo.astype(np.float32) * (1 - a) + colour * a + 0.5, 0, 255).astype(np.uint8)


def heatmap_image(heat: np.ndarray) -> Image.Image:
    """The raw heat-map as an 8-bit greyscale image (0 = none, 255 = strongest)."""
    return Image.fromarray(np.clip(np.asarray(heat) * 255 + 0.5, 0, 255).astype(np.uint8))


def explain_to_files(
    classifier: Classifier, image_path: str, out_png: str, label: str | None, heatmap: bool
) -> list[str]:
    """Write the overlay PNG (and ``<stem>_heatmap.png`` beside it); returns the paths written.

    Files are written under a temporary name and renamed, so no half-written PNG is left.
    """
    pil = open_image(image_path)
    heat = explain(classifier, pil, label)
    written = [_save_png(Image.fromarray(overlay(np.asarray(pil), heat)), out_png)]
    if heatmap:
        root, _ = os.path.splitext(out_png)
        written.append(_save_png(heatmap_image(heat), f"{root}_heatmap.png"))
    return written


def _save_png(img: Image.Image, path: str) -> str:
    try:
        with replacing(Path(path)) as tmp:
            img.save(tmp, format="PNG")
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path



def explained_thumbnails(
    classifier: Classifier,
    paths: Sequence[str],
    size: int = 96,
    *,
    opacity: float = DEFAULT_OPACITY,
    batch_size: int = 16,
    should_stop: Callable[[], bool] | None = None,
) -> Iterator[list[tuple[str, np.ndarray | None]]]:
    """Overlay thumbnails (heat-map of the predicted class over the photo) for the app's cards.

    Yields one list per batch of (path, upright RGB uint8 thumbnail with the overlay, or None
    when the file cannot be decoded). Each photo is decoded once.
    """
    for start in range(0, len(paths), batch_size):
        if should_stop is not None and should_stop():
            return
        chunk = paths[start : start + batch_size]
        squares: list[np.ndarray] = []
        thumbs: list[np.ndarray | None] = []
        for path in chunk:
            try:
                img = open_image(path, draft=max(size, classifier.image_size))
            except ImageError:
                thumbs.append(None)
                continue
            squares.append(np.asarray(resize_square(img, classifier.image_size), np.uint8))
            img.thumbnail((size, size))
            thumbs.append(np.asarray(img, np.uint8))
        cams = grad_cam(classifier, np.stack(squares))[0] if squares else []
        out: list[tuple[str, np.ndarray | None]] = []
        k = 0
        for path, thumb in zip(chunk, thumbs, strict=True):
            if thumb is None:
                out.append((path, None))
                continue
            out.append((path, overlay(thumb, cams[k], opacity)))
            k += 1
        yield out
