"""Near-duplicate photos: a perceptual hash of each scan thumbnail, and groups of close hashes.

Two shots of the same scene a moment apart, a photo and its resized or re-saved copy, have
different bytes but nearly the same picture. When one lands in training and the other in
validation, the validation figure flatters the model; when they sit in two classes, one of them
is probably mislabelled. The scan hashes each image (a 64-bit DCT hash of its 16 x 16 grey
thumbnail: the signs of the lowest 8 x 8 frequencies against their median), and images whose
hashes differ in at most :data:`MAX_DISTANCE` bits are grouped. Groups are found without
comparing every pair: with 8 bands of 8 bits, two hashes within 7 bits agree on a whole band.
"""

from __future__ import annotations

import numpy as np

#: Hashes at most this many bits apart (of 64) are near-duplicates. Measured (docs/recipe.md):
#: a photo re-saved as a small JPEG or made brighter differs from itself by 0-2 bits; random crops
#: of one photo by 6 or more; the 1,797 scikit-learn digits of different classes by 6 or more.
MAX_DISTANCE = 4

_BANDS = 8


def _dct_matrix(n: int) -> np.ndarray:
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2 / n)
    m[0] /= np.sqrt(2)
    return m


def perceptual_hashes(thumbs: np.ndarray) -> np.ndarray:
    """64-bit hashes (uint64) of grey thumbnails shaped (N, S, S), S >= 8."""
    if len(thumbs) == 0:
        return np.zeros(0, np.uint64)
    side = thumbs.shape[1]
    d = _dct_matrix(side)
    coeffs = d @ thumbs.astype(np.float64) @ d.T  # (N, S, S)
    low = coeffs[:, :8, :8].reshape(len(thumbs), 64)
    median = np.median(low[:, 1:], axis=1, keepdims=True)  # the mean (DC) term left out
    bits = (low > median).astype(np.uint64)
    bits[:, 0] = 0
    weights = np.left_shift(np.uint64(1), np.arange(64, dtype=np.uint64))
    return (bits * weights).sum(axis=1, dtype=np.uint64)


def near_duplicate_groups(hashes: np.ndarray, max_distance: int = MAX_DISTANCE) -> np.ndarray:
    """A group id per hash: hashes within ``max_distance`` bits (directly or through a chain of
    such pairs) share one. Singletons get their own id."""
    n = len(hashes)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    hashes = np.asarray(hashes, dtype=np.uint64)
    for band in range(_BANDS):
        keys = (hashes >> np.uint64(band * 8)) & np.uint64(0xFF)
        order = np.argsort(keys, kind="stable")
        bounds = np.flatnonzero(np.diff(keys[order])) + 1
        for members in np.split(order, bounds):
            if len(members) < 2 or len(members) > 4000:  # a huge bucket: blank images, skip
                continue
            h = hashes[members]
            close = _bit_count(h[:, None] ^ h[None, :]) <= max_distance
            for a, b in zip(*np.nonzero(np.triu(close, 1)), strict=True):
                parent[find(int(members[a]))] = find(int(members[b]))
    return np.array([find(i) for i in range(n)], dtype=np.int64)


def _bit_count(x: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):  # numpy 2
        return np.bitwise_count(x)
    as_bytes = x.view(np.uint8).reshape(*x.shape, 8)
    return np.unpackbits(as_bytes, axis=-1).sum(axis=-1)
