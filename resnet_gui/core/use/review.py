"""Which photos to label next: an order of unlabelled photos in which labelling helps most.

Uncertainty alone (the smallest margin between the two likeliest classes first) is known to lose
to random picks when few labels exist: the most uncertain photos are near-copies of each other
and atypical (blurred, cut off, odd). So the order here is built greedily in the model's feature
space (the pooled last feature map, unit length), and each photo's gain when picked is

    gain = uncertainty ** UNCERTAINTY_WEIGHT * typicality * novelty

- uncertainty: 1 - (p1 - p2), with the calibrated probabilities (1: a tie, 0: sure);
- typicality: how dense the photo's neighbourhood is (the inverse mean distance to its
  ``NEIGHBOURS`` nearest neighbours, scaled so the most typical photo has 1): a photo like
  many others teaches about many others;
- novelty: its distance to the nearest photo already labelled or already picked, over the
  largest such distance (1 when nothing is labelled yet): a photo like one picked before
  teaches little new.

The "balanced" order (measured, not yet the app's: docs/review.md) spreads the same picks over
the classes the model predicts: each pick serves the predicted class with the fewest photos
labelled and picked so far, and takes its photo of largest gain. It answers a case seen on real
photos, where uncertainty pulled 18 of 24 picks into one class of the pair the model confused;
it does nothing where the start model predicts one class for nearly everything (measured).
(Above ``GREEDY_LIMIT`` photos the spread covers the greedy part, the best ``GREEDY_LIMIT`` by
uncertainty x typicality; the rest follow in that order.)

The choice of this rule and its weights is measured, not assumed: ``benchmarks/review.py``
compares it with random picks, uncertainty alone and k-centre greedy on several data sets, for
a few labels per class and for more; the table is in docs/review.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from resnet_gui.core.base.calibration import apply_temperature
from resnet_gui.core.base.errors import Stopped
from resnet_gui.core.data.dataset import class_folders
from resnet_gui.core.data.images import expand_inputs
from resnet_gui.core.model.files import scale_pixels
from resnet_gui.core.use.inference import Classifier, decode_batch

#: How many nearest neighbours measure a photo's typicality.
NEIGHBOURS = 10
#: The exponent on uncertainty in a pick's gain (0: typicality and novelty only).
UNCERTAINTY_WEIGHT = 1.0
#: Above this many photos, the greedy order covers the best ``GREEDY_LIMIT`` by
#: uncertainty x typicality and the rest follow in that order (memory grows with its square).
GREEDY_LIMIT = 2000

#: In the "clusters" order, feature-space clusters per class of the model.
CLUSTERS_PER_CLASS = 5

#: In the "faded" order (measured, not the app's: docs/review.md) typicality's exponent is
#: ``min(1, TYPICAL_UNTIL / labels per class)``.
TYPICAL_UNTIL = 3.0

#: The orders the benchmark compares; "app" is the one the app and the CLI use. Measured beside
#: it (docs/review.md): "balanced" (the app's gain, picks spread over the predicted classes
#: against the labelled counts), "clusters" (picks spread over feature-space
#: clusters by photos per label, uncertainty x typicality inside each), "faded" (typicality
#: fading as labels grow), "alternating" (every other pick by typicality x novelty alone),
#: "margin-novel" (no typicality), "margin" (uncertainty alone), "kcenter" (novelty alone),
#: "typical" (typicality x novelty) and "random".
METHODS = ("app", "balanced", "clusters", "faded", "alternating", "margin-novel", "margin",
           "kcenter", "typical", "random")


@dataclass
class Embedded:
    """Photos seen by a model: calibrated probabilities and unit-length feature vectors, one row
    per readable photo, and the unreadable ones with the reason."""

    paths: list[str]
    probabilities: np.ndarray
    features: np.ndarray
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class ReviewItem:
    """One photo in review order: the model's guess and the gain of labelling it."""

    path: str
    predicted: str
    confidence: float
    score: float

    def to_dict(self) -> dict:
        """The JSON form printed by ``resnet-gui review --format json``."""
        return {"path": self.path, "predicted": self.predicted,
                "confidence": round(self.confidence, 6), "score": round(self.score, 6)}


#: The ``review --format csv`` header, in the order of :meth:`ReviewItem.to_dict`.
CSV_HEADER = ("path", "predicted", "confidence", "score")


def _pooled_and_probabilities(classifier: Classifier) -> Callable[[Any], tuple[Any, Any]]:
    """A compiled function: scaled pixels -> (pooled features, raw probabilities)."""
    from resnet_gui.core.base.tfsetup import import_tensorflow

    tf = import_tensorflow()
    chain = classifier.chain()

    def run(x: Any) -> tuple[Any, Any]:
        fmap = chain.run_features(x)
        return tf.reduce_mean(fmap, axis=(1, 2)), chain.run_head(fmap)

    return tf.function(run, reduce_retracing=True)


def embed(
    classifier: Classifier,
    inputs: Iterable[str | os.PathLike[str]],
    *,
    batch_size: int = 32,
    should_stop: Callable[[], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Embedded:
    """Probabilities and feature vectors of files (folders are expanded).

    Raises:
        Stopped: ``should_stop`` returned True.
        ModelFileError: the model is not a chain of layers with a feature map.
    """
    paths = expand_inputs(inputs)
    fn = classifier.derived("review_embed", _pooled_and_probabilities)
    kept: list[str] = []
    probs: list[np.ndarray] = []
    feats: list[np.ndarray] = []
    errors: dict[str, str] = {}
    for begin in range(0, len(paths), batch_size):
        if should_stop is not None and should_stop():
            raise Stopped("review stopped")
        chunk, arr, bad, _ = decode_batch(paths[begin : begin + batch_size],
                                          classifier.image_size, None)
        ok = [i for i in range(len(chunk)) if i not in bad]
        errors.update({chunk[i]: msg for i, msg in bad.items()})
        if ok:
            pooled, p = fn(scale_pixels(arr[ok], classifier.input_scale))
            kept += [chunk[i] for i in ok]
            feats.append(np.asarray(pooled, np.float32))
            probs.append(apply_temperature(np.asarray(p), classifier.temperature))
        if progress is not None:
            progress(min(begin + batch_size, len(paths)), len(paths))
    n_classes = len(classifier.class_names)
    return Embedded(
        kept,
        np.concatenate(probs) if probs else np.zeros((0, n_classes)),
        unit_rows(np.concatenate(feats)) if feats else np.zeros((0, 0), np.float32),
        errors,
    )


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (a zero row stays zero)."""
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def uncertainty(probabilities: np.ndarray) -> np.ndarray:
    """1 - (p1 - p2): 1 for a tie between the two likeliest classes, 0 for a sure guess."""
    p = np.sort(np.asarray(probabilities, np.float64), axis=1)
    if p.shape[1] < 2:
        return np.zeros(len(p))
    return 1.0 - (p[:, -1] - p[:, -2])


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances between unit rows (0..2)."""
    return np.sqrt(np.maximum(2.0 - 2.0 * (a @ b.T), 0.0))


def typicality(features: np.ndarray, neighbours: int = NEIGHBOURS,
               reference: int = GREEDY_LIMIT, seed: int = 0) -> np.ndarray:
    """The inverse mean distance to the nearest ``neighbours`` others, scaled to max 1.

    Above ``reference`` photos the neighbours are looked for among a random ``reference`` of
    them (the density estimate of a sample), so time and memory grow with n, not n squared.
    """
    n = len(features)
    if n < 2:
        return np.ones(n)
    sample = np.arange(n) if n <= reference else \
        np.sort(np.random.default_rng(seed).choice(n, reference, replace=False))
    k = min(neighbours, len(sample) - 1)
    out = np.empty(n)
    for begin in range(0, n, 512):  # rows in blocks: memory stays 512 x the sample
        d = _distances(features[begin : begin + 512], features[sample])
        d[d < 1e-9] = np.inf  # a photo is not its own neighbour (nor an exact copy's)
        out[begin : begin + len(d)] = np.partition(d, k - 1, axis=1)[:, :k].mean(axis=1)
    out[~np.isfinite(out)] = 0.0
    inv = 1.0 / np.maximum(out, 1e-6)
    return inv / inv.max()


def _greedy(features: np.ndarray, weights: list[np.ndarray], labelled: np.ndarray | None,
            predicted: np.ndarray | None = None, have: np.ndarray | None = None,
            ) -> tuple[np.ndarray, np.ndarray]:
    """Pick one photo at a time, the largest ``weight * novelty`` first (the ``weights`` take
    turns). With ``predicted`` (a class per photo) and ``have`` (photos labelled per class),
    each pick comes from the predicted class with the fewest labelled and picked so far."""
    n = len(features)
    between = _distances(features, features)  # n x n, once: each pick then reads one row
    if labelled is not None and len(labelled):
        nearest = np.full(n, np.inf)
        for begin in range(0, len(labelled), 1024):
            nearest = np.minimum(nearest,
                                 _distances(features, labelled[begin : begin + 1024]).min(1))
    else:
        nearest = None  # nothing labelled: novelty 1 for the first pick
    order = np.empty(n, np.int64)
    gains = np.empty(n)
    free = np.ones(n, bool)
    for step in range(n):
        novelty = np.ones(n)
        if nearest is not None:
            top = nearest[free].max()
            if top > 0:
                novelty = nearest / top
        gain = np.where(free, weights[step % len(weights)] * novelty, -np.inf)
        if predicted is not None and have is not None:
            open_classes = np.bincount(predicted[free], minlength=len(have)) > 0
            fewest = np.where(open_classes, have, np.inf).min()
            pick = int(np.argmax(np.where(have[predicted] == fewest, gain, -np.inf)))
            have[predicted[pick]] += 1
        else:
            pick = int(np.argmax(gain))
        order[step], gains[step] = pick, gain[pick]
        free[pick] = False
        row = between[pick]
        nearest = row.copy() if nearest is None else np.minimum(nearest, row)
    return order, gains


def kmeans(features: np.ndarray, k: int, seed: int = 0, iterations: int = 20
           ) -> tuple[np.ndarray, np.ndarray]:
    """Spherical k-means of unit rows: (cluster of each row, unit centres).

    The start is greedy k-means++: of a few candidates drawn by squared distance, the one that
    leaves the least. ``k`` is clamped to 1..n (``features`` must hold at least one row); a
    cluster that empties keeps its centre.
    """
    rng = np.random.default_rng(seed)
    n = len(features)
    k = max(1, min(k, n))
    centres = [features[rng.integers(n)]]
    nearest = _distances(features, centres[0][None])[:, 0] ** 2
    tries = 2 + int(np.log(k))
    for _ in range(k - 1):
        total = nearest.sum()
        drawn = rng.integers(n, size=tries) if total <= 0 else \
            rng.choice(n, size=tries, p=nearest / total)
        after = np.minimum(nearest[:, None], _distances(features, features[drawn]) ** 2)
        best = int(np.argmin(after.sum(axis=0)))
        centres.append(features[drawn[best]])
        nearest = after[:, best]
    units = unit_rows(np.array(centres))
    assign = np.argmin(_distances(features, units), axis=1)
    for _ in range(iterations):
        sums = np.zeros_like(units)
        np.add.at(sums, assign, features)
        empty = ~sums.any(axis=1)
        units = np.where(empty[:, None], units, unit_rows(sums))
        new = np.argmin(_distances(features, units), axis=1)
        if np.array_equal(new, assign):
            break
        assign = new
    return assign, units


def _balanced(features: np.ndarray, weight: np.ndarray, labelled: np.ndarray | None,
              clusters: int) -> tuple[np.ndarray, np.ndarray]:
    """Picks spread over feature-space clusters: each step serves the cluster with the most
    photos per label it holds (labelled photos count for their nearest centre), and takes its
    photo of largest ``weight``."""
    assign, centres = kmeans(features, clusters)
    k = len(centres)
    size = np.bincount(assign, minlength=k)
    left = size.copy()
    have = np.zeros(k)
    if labelled is not None and len(labelled):
        have += np.bincount(np.argmin(_distances(labelled, centres), axis=1), minlength=k)
    by_cluster = [list(np.flatnonzero(assign == j)[np.argsort(-weight[assign == j],
                                                              kind="stable")]) for j in range(k)]
    order = np.empty(len(features), np.int64)
    gains = np.empty(len(features))
    for step in range(len(features)):
        need = np.where(left > 0, size / (1.0 + have), -1.0)
        j = int(np.argmax(need))
        pick = by_cluster[j].pop(0)
        order[step], gains[step] = pick, weight[pick]
        have[j] += 1
        left[j] -= 1
    return order, gains


def typicality_exponent(labelled: int, classes: int) -> float:
    """Typicality's exponent in the "faded" order, from the labels per class so far: 1 up to
    ``TYPICAL_UNTIL`` per class (or when none are known), then falling as 1/labels."""
    per_class = labelled / max(classes, 1)
    return 1.0 if per_class <= TYPICAL_UNTIL else TYPICAL_UNTIL / per_class


def review_order(
    probabilities: np.ndarray,
    features: np.ndarray,
    labelled: np.ndarray | None = None,
    *,
    labelled_classes: np.ndarray | None = None,
    method: str = "app",
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The order in which to label photos, most useful first, and each photo's gain.

    Args:
        probabilities: (N, classes) calibrated probabilities.
        features: (N, D) unit-length feature vectors.
        labelled: (M, D) feature vectors of photos already labelled (the data set), or None.
        labelled_classes: (M,) the class index of each of them (-1: not one of the model's);
            the "balanced" order spreads its picks so the classes even out. None: none counted.
        method: one of :data:`METHODS` ("app": the rule of the module docstring).
        seed: for "random" only.

    Returns:
        (indices into the N photos, most useful first; the gain of each, in that order).
    """
    n = len(features)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0)
    if method == "random":
        order = np.random.default_rng(seed).permutation(n)
        return order, np.zeros(n)
    u = uncertainty(probabilities)
    if method == "margin":
        order = np.argsort(-u, kind="stable")
        return order, u[order]
    useful = (u + 1e-3) ** UNCERTAINTY_WEIGHT
    typ = typicality(features) if method in ("app", "balanced", "clusters", "faded",
                                             "alternating", "typical") else None
    if method == "clusters":
        return _balanced(features, useful * typ, labelled,
                         CLUSTERS_PER_CLASS * probabilities.shape[1])
    if method == "faded":
        typ = typ ** typicality_exponent(len(labelled) if labelled is not None else 0,
                                         probabilities.shape[1])
    # One weight per pick, or several taking turns ("alternating").
    weights = {"app": lambda: [useful * typ], "balanced": lambda: [useful * typ],
               "faded": lambda: [useful * typ],
               "alternating": lambda: [useful * typ, typ], "margin-novel": lambda: [useful],
               "kcenter": lambda: [np.ones(n)], "typical": lambda: [typ]}[method]()
    weight = weights[0]
    classes = probabilities.shape[1]
    predicted = np.argmax(probabilities, axis=1) if method == "balanced" else None
    have = np.zeros(classes)
    if labelled_classes is not None:
        known = np.asarray(labelled_classes, np.int64)
        have += np.bincount(known[(known >= 0) & (known < classes)], minlength=classes)
    if n <= GREEDY_LIMIT:
        return _greedy(features, weights, labelled, predicted, have)
    head = np.argsort(-weight, kind="stable")
    first, rest = head[:GREEDY_LIMIT], head[GREEDY_LIMIT:]
    order, gains = _greedy(features[first], [w[first] for w in weights], labelled,
                           None if predicted is None else predicted[first], have)
    return np.concatenate([first[order], rest]), np.concatenate([gains, np.zeros(len(rest))])


def labelled_images(folders: Sequence[str | os.PathLike[str]]) -> list[str]:
    """The labelled images of data set folders: those in their class folders (not in
    ``_removed`` nor hidden folders); a folder without class folders gives all its images."""
    return [path for path, _ in labelled_with_classes(folders)]


def labelled_with_classes(folders: Sequence[str | os.PathLike[str]]) -> list[tuple[str, str]]:
    """:func:`labelled_images` with each one's class: the name of its class folder (the first
    folder below the data set folder, however deep the image lies), or of the folder itself
    for a folder without class folders."""
    out: list[tuple[str, str]] = []
    for folder in folders:
        classes = class_folders(folder)
        for name in classes:
            out += [(p, name) for p in expand_inputs([Path(folder) / name])]
        if not classes:
            out += [(p, Path(folder).name) for p in expand_inputs([folder])]
    return out


def review(
    classifier: Classifier,
    inputs: Sequence[str | os.PathLike[str]],
    *,
    labelled: Sequence[str | os.PathLike[str]] = (),
    should_stop: Callable[[], bool] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[ReviewItem], dict[str, str]]:
    """Photos in the order in which labelling them helps the model most.

    Args:
        classifier: the current model.
        inputs: the unlabelled photos and folders.
        labelled: photos already labelled (e.g. the data set's), so the order favours what they
            do not cover; may be empty.
        should_stop: polled between batches.
        progress: called with (photos seen, photos in all).

    Returns:
        (the readable photos in review order; unreadable ones: path -> reason).

    Raises:
        Stopped: ``should_stop`` returned True.
    """
    pool_paths = expand_inputs(inputs)
    known_classes = dict(labelled_with_classes(labelled))
    known = list(known_classes)
    total = len(pool_paths) + len(known)

    def step(offset: int) -> Callable[[int, int], None] | None:
        return None if progress is None else (lambda done, _n: progress(offset + done, total))

    pool = embed(classifier, pool_paths, should_stop=should_stop, progress=step(0))
    base = embed(classifier, known, should_stop=should_stop,
                 progress=step(len(pool_paths))) if known else None
    index = {name: i for i, name in enumerate(classifier.class_names)}
    order, gains = review_order(
        pool.probabilities, pool.features, base.features if base is not None else None,
        labelled_classes=None if base is None else np.array(
            [index.get(known_classes[p], -1) for p in base.paths]))
    items = [
        ReviewItem(pool.paths[i], classifier.class_names[int(np.argmax(pool.probabilities[i]))],
                   float(pool.probabilities[i].max()), float(g))
        for i, g in zip(order, gains, strict=True)
    ]
    return items, pool.errors
