"""Helpers shared by the benchmark scripts: real photo data sets and timing."""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def photo_sources() -> dict[str, np.ndarray]:
    """Real photos that packages ship: scikit-learn's two sample images and scikit-image's."""
    from sklearn.datasets import load_sample_image

    out = {"china": load_sample_image("china.jpg"), "flower": load_sample_image("flower.jpg")}
    try:
        from skimage import data

        for name in ("chelsea", "coffee", "astronaut", "rocket"):
            out[name] = getattr(data, name)()
    except ImportError:
        pass
    return out


def write_photo_classes(root: Path, per_class: int, size: int, seed: int = 0,
                        start: int = 0) -> Path:
    """One class per source photo: random crops (1/8 to 1/2 of the side) resized to ``size``,
    saved as JPEG. Returns ``root``."""
    rng = np.random.default_rng(seed)
    for name, img in photo_sources().items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        h, w = img.shape[:2]
        for i in range(start, start + per_class):
            s = int(rng.integers(min(h, w) // 8, min(h, w) // 2))
            y, x = int(rng.integers(0, h - s)), int(rng.integers(0, w - s))
            crop = Image.fromarray(img[y : y + s, x : x + s]).resize((size, size))
            crop.save(folder / f"{name}_{i:04d}.jpg", quality=90)
    return root


def read_rows(path: Path, key: tuple[str, ...]) -> dict[tuple, dict]:
    """A benchmark's JSON-lines results (one run a line) by the values of ``key``; a later line
    for the same run replaces an earlier one. Empty when the file is not there yet."""
    if not path.exists():
        return {}
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {tuple(r[k] for k in key): r for r in rows}


def mean_se(values: list[float], digits: int = 3) -> str:
    """"mean ± standard error" of per-seed values (the standard error of the mean, ddof 1)."""
    se = float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0
    return f"{np.mean(values):.{digits}f} ± {se:.{digits}f}"


def median_time(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median wall time of ``fn`` over ``repeat`` calls, in seconds."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def rss_mb() -> float:
    """Current resident memory of this process, in MB (Linux)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
