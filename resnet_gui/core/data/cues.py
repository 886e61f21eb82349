"""What a scan measures of the classes as a whole, for the recipe's automatic choices: whether
they change when mirrored (no flip augmentation then) and whether light or colour tells them
apart (no brightness jitter then). Plain NumPy on the small per-image summaries the scan keeps
(a grey thumbnail and a mean colour); see docs/recipe.md.
"""

from __future__ import annotations

import numpy as np


def mirror_asymmetry(thumbs: np.ndarray, labels: np.ndarray) -> float | None:
    """How much the classes change when mirrored left-right, relative to how much they differ.

    The class-mean images of aligned, handed content (digits, letters, arrows) change a lot when
    mirrored; those of photos framed at random hardly do, and neither do symmetric subjects
    (faces). The measure is sqrt(mean_c |m_c - mirror(m_c)|^2 / mean_{c<d} |m_c - m_d|^2) over
    class means m_c of grey thumbnails, each squared distance corrected for the noise a finite
    sample adds (minus the summed variance of the mean), so small classes of unaligned photos
    score near 0 instead of near 1. About 0.5 or more: a mirrored image looks like another
    class, and flipping is no safe augmentation.

    Returns:
        The ratio, or None when fewer than two classes have two images or the classes' means
        differ by no more than their sampling noise (nothing to compare against).
    """
    x = thumbs.reshape(len(thumbs), -1).astype(np.float64) / 255.0
    d = (thumbs - thumbs[:, :, ::-1]).reshape(len(thumbs), -1).astype(np.float64) / 255.0
    means, noise, asym = [], [], []
    for c in np.unique(labels):
        idx = labels == c
        n = int(idx.sum())
        if n < 2:
            continue
        means.append(x[idx].mean(0))
        noise.append(x[idx].var(0, ddof=1).sum() / n)
        dm = d[idx].mean(0)
        asym.append(max(0.0, float(dm @ dm) - d[idx].var(0, ddof=1).sum() / n))
    if len(means) < 2:
        return None
    pairs = [(i, j) for i in range(len(means)) for j in range(i + 1, len(means))]
    raw = float(np.mean([(means[i] - means[j]) @ (means[i] - means[j]) for i, j in pairs]))
    floor = float(np.mean([noise[i] + noise[j] for i, j in pairs]))
    if raw <= 2.0 * floor:
        return None  # the class means differ by no more than their noise: nothing to judge by
    return float(np.sqrt(np.mean(asym) / (raw - floor)))


def class_share(values: np.ndarray, labels: np.ndarray) -> float | None:
    """How much of the spread of one number per image (its brightness, say) its class explains:
    omega squared of a one-way analysis of variance, (SSb - (k-1) MSw) / (SSt + MSw), clipped
    to 0-1. Unlike the plain share SSb / SSt it does not credit the classes with the difference
    that small samples show by chance: 0 when the classes do not differ in it, near 1 when every
    class has its own value and keeps to it.

    Returns:
        The share, or None with fewer than two classes of two images or no spread at all.
    """
    v = np.asarray(values, np.float64)
    groups = [v[labels == c] for c in np.unique(labels)]
    groups = [g for g in groups if len(g) >= 2]
    if len(groups) < 2:
        return None
    v = np.concatenate(groups)
    k, n = len(groups), len(v)
    ss_between = sum(len(g) * (g.mean() - v.mean()) ** 2 for g in groups)
    ss_within = sum(((g - g.mean()) ** 2).sum() for g in groups)
    ms_within = ss_within / (n - k)
    if ss_between + ss_within <= 0:
        return None
    share = (ss_between - (k - 1) * ms_within) / (ss_between + ss_within + ms_within)
    return float(min(1.0, max(0.0, share)))


def light_and_colour_cues(colours: np.ndarray,
                          labels: np.ndarray) -> tuple[float | None, float | None]:
    """Whether the classes differ in light and in colour. The recipe leaves brightness jitter
    out when light is a class cue (``recipe.auto_augment``; docs/recipe.md, "Light").

    Args:
        colours: (N, 3) each image's mean colour, R, G, B in 0-255.
        labels: (N,) each image's class index.

    Returns:
        (light cue, colour cue): :func:`class_share` of each image's mean brightness (ITU-R 601
        luma of its mean colour), and the larger one of its mean colour's two opponent axes
        (red-green, yellow-blue, over R+G+B: the hue, not the light); None where unknown (grey
        images have no colour cue).
    """
    rgb = np.asarray(colours, np.float64).reshape(-1, 3)
    luma = rgb @ np.array([0.299, 0.587, 0.114])
    total = np.maximum(rgb.sum(axis=1), 1.0)  # chromaticity: the hue, whatever the light
    red_green = (rgb[:, 0] - rgb[:, 1]) / total
    yellow_blue = ((rgb[:, 0] + rgb[:, 1]) / 2 - rgb[:, 2]) / total
    shares = [class_share(a, labels) for a in (red_green, yellow_blue)]
    known = [x for x in shares if x is not None]
    return class_share(luma, labels), (max(known) if known else None)
