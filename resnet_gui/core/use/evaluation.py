"""Evaluate a classifier on labelled images: accuracy, per-class metrics, the confusion matrix,
suspected label errors, calibration and (optionally) robustness to corrupted copies.

What each number means: docs/evaluation.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from resnet_gui.core.base.calibration import (
    apply_temperature,
    expected_calibration_error,
    reliability,
)
from resnet_gui.core.base.errors import DatasetError, Stopped
from resnet_gui.core.data.dataset import DatasetReport, scan_dataset
from resnet_gui.core.use.inference import Classifier

#: A wrong prediction at least this sure (probability of the predicted class) makes the image's
#: folder label suspect.
LABEL_ERROR_MIN_CONFIDENCE = 0.5


@dataclass
class EvaluationReport:
    """Metrics of one evaluation; ``confusion_matrix[i][j]`` counts true class i predicted j.

    ``paths``, ``labels`` and ``probabilities`` (calibrated, one row per image, in class order)
    keep every image's result, so a view can list the images behind any cell.
    """

    accuracy: float
    classes: list[str]
    per_class: dict[str, dict[str, float | int | None]]
    confusion_matrix: list[list[int]]
    misclassified: list[dict] = field(default_factory=list)
    suspected_label_errors: list[dict] = field(default_factory=list)
    calibration: dict = field(default_factory=dict)
    reliability: list[dict] = field(default_factory=list)
    robustness: dict[str, float] | None = None
    unusable: list[dict] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    probabilities: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def to_dict(self) -> dict:
        """The JSON form printed by ``resnet-gui evaluate --format json``."""
        out = {
            "accuracy": self.accuracy,
            "images": len(self.paths),
            "classes": self.classes,
            "per_class": self.per_class,
            "confusion_matrix": self.confusion_matrix,
            "misclassified": self.misclassified,
            "suspected_label_errors": self.suspected_label_errors,
            "calibration": self.calibration,
            "reliability": self.reliability,
            "unusable": self.unusable,
        }
        if self.robustness is not None:
            out["robustness"] = self.robustness
        return out

    def cell(self, true: int, predicted: int) -> list[dict]:
        """The images of one confusion-matrix cell, most confident first."""
        pred = self.probabilities.argmax(axis=1) if len(self.paths) else np.zeros(0, int)
        idx = np.flatnonzero((self.labels == true) & (pred == predicted))
        rows = [
            {"path": self.paths[i], "probability": float(self.probabilities[i, predicted]),
             "label": self.classes[true], "predicted": self.classes[predicted]}
            for i in idx
        ]
        return sorted(rows, key=lambda r: -r["probability"])

    def images_in_order(self, order: str) -> list[dict]:
        """Every evaluated image as a row (path, label, predicted, probability of the
        prediction), in one of :data:`IMAGE_ORDERS`: "incorrect" (the wrong ones first, the
        surest mistakes first; then the right ones, least sure first) or "least_confident"."""
        if not len(self.paths):
            return []
        pred = self.probabilities.argmax(axis=1)
        top = self.probabilities.max(axis=1)
        if order == "incorrect":
            wrong = pred != self.labels
            idx = sorted(range(len(pred)), key=lambda i: (not wrong[i],
                                                          -top[i] if wrong[i] else top[i]))
        elif order == "least_confident":
            idx = list(np.argsort(top, kind="stable"))
        else:
            raise ValueError(f"unknown order {order!r}; one of {', '.join(IMAGE_ORDERS)}")
        return [{"path": self.paths[i], "label": self.classes[self.labels[i]],
                 "predicted": self.classes[pred[i]], "probability": float(top[i])}
                for i in idx]


#: The orders of :meth:`EvaluationReport.images_in_order`, with the app's names for them.
IMAGE_ORDERS = {"incorrect": "Incorrect first", "least_confident": "Least confident first"}


def metrics_from_predictions(
    y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]
) -> tuple[float, dict[str, dict[str, float | int | None]], list[list[int]]]:
    """Accuracy, per-class precision/recall/F1/support and the confusion matrix.

    A class with no images has recall and F1 None (not 0: nothing was measured); a class the
    model never predicted has precision None.
    """
    n = len(classes)
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    per_class: dict[str, dict[str, float | int | None]] = {}
    for i, name in enumerate(classes):
        tp = cm[i, i]
        predicted = cm[:, i].sum()
        support = cm[i, :].sum()
        precision = float(tp / predicted) if predicted else None
        recall = float(tp / support) if support else None
        if precision is None or recall is None:
            f1 = None if not support else 0.0
        else:
            f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {
            "precision": None if precision is None else round(precision, 6),
            "recall": None if recall is None else round(recall, 6),
            "f1": None if f1 is None else round(f1, 6),
            "support": int(support),
        }
    accuracy = float(np.trace(cm) / cm.sum()) if cm.sum() else 0.0
    return accuracy, per_class, cm.tolist()


def suspected_label_errors(
    paths: list[str], labels: np.ndarray, probs: np.ndarray, classes: list[str],
    min_confidence: float = LABEL_ERROR_MIN_CONFIDENCE,
) -> list[dict]:
    """Images whose folder label disagrees with a confident prediction, most suspicious first.

    Ranked by the log-odds of the predicted class over the given label, log p_pred - log
    p_label: it does not saturate at 1 for a sharply calibrated model, and the order is the same
    whatever the temperature. Each row's "confidence" that the label is wrong is p_pred - p_label
    (in the spirit of confident learning, Northcutt et al. 2021).
    """
    if not len(paths):
        return []
    pred = probs.argmax(axis=1)
    p_pred = probs[np.arange(len(pred)), pred]
    p_label = probs[np.arange(len(pred)), labels]
    margin = np.log(np.clip(p_pred, 1e-300, 1)) - np.log(np.clip(p_label, 1e-300, 1))
    chosen = np.flatnonzero((pred != labels) & (p_pred >= min_confidence))
    return [
        {"path": paths[i], "label": classes[labels[i]], "predicted": classes[pred[i]],
         "confidence": round(float(p_pred[i] - p_label[i]), 6)}
        for i in sorted(chosen, key=lambda i: -margin[i])
    ]


def evaluate(
    classifier: Classifier,
    data: str | os.PathLike[str] | DatasetReport,
    *,
    batch_size: int = 32,
    robustness: bool = False,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> EvaluationReport:
    """Classify every usable image of ``data`` (folders named as the model's classes).

    Args:
        classifier: the model (its temperature, if any, calibrates the probabilities).
        data: a class-per-folder tree, or a scan of one (e.g. a training run's validation
            images).
        batch_size: images per forward pass.
        robustness: also measure accuracy on corrupted copies (``core.data.robustness``): one more
            pass per corruption over the same decoded images.
        progress: called as ``progress(done, total)`` in forward passes.
        should_stop: polled between batches.

    Raises:
        DatasetError: the folder is missing, has no usable images, or has classes the model
            does not know (named).
        Stopped: ``should_stop`` returned True (during the scan too).
    """
    from resnet_gui.core.data.robustness import CORRUPTIONS

    names = ["clean", *CORRUPTIONS] if robustness else ["clean"]
    report = _scanned(classifier, data, len(names), progress, should_stop)
    scan_share = 0 if isinstance(data, DatasetReport) else len(report.paths)
    passes = _Passes(classifier, report, names, batch_size)
    passes.run(scan_share, progress, should_stop)
    if not passes.keep.any():
        raise DatasetError(f"none of the images in {report.root} could be read")
    return _report(classifier, report, passes)


def _scanned(
    classifier: Classifier, data: str | os.PathLike[str] | DatasetReport, passes: int,
    progress: Callable[[int, int], None] | None, should_stop: Callable[[], bool] | None,
) -> DatasetReport:
    """``data`` scanned (unless it is a scan), checked against the model's classes. The scan
    decodes every file once: it counts as one pass on the progress bar."""
    classes = list(classifier.class_names)
    if isinstance(data, DatasetReport):
        report = data
    else:
        def scanned(done: int, total: int) -> None:
            if progress is not None:
                progress(done, total * (1 + passes))

        report = scan_dataset(data, classes=classes, should_stop=should_stop, progress=scanned)
    if report.classes != classes:
        unknown = [c for c in report.classes if c not in classes]
        raise DatasetError(
            f"classes the model does not know: {', '.join(unknown) or '(order differs)'}"
        )
    if not report.images:
        raise DatasetError(f"no usable images in {report.root}")
    return report


class _Passes:
    """The forward passes over a scan, batch by batch: the clean probabilities (uncalibrated)
    and, for each corruption, how many corrupted copies were still classified right."""

    def __init__(self, classifier: Classifier, report: DatasetReport, names: list[str],
                 batch_size: int) -> None:
        self.classifier, self.report, self.names = classifier, report, names
        self.batch_size = batch_size
        self.labels = report.labels
        n = len(self.labels)
        self.raw = np.zeros((n, len(classifier.class_names)))
        self.keep = np.ones(n, bool)  # False: the file failed to decode now
        self.correct = {name: 0 for name in names[1:]}
        self.unusable = [{"path": u.path, "reason": u.reason} for u in report.unusable]

    def run(self, done: int, progress: Callable[[int, int], None] | None,
            should_stop: Callable[[], bool] | None) -> None:
        """Every batch; ``done``: the progress already made (the scan's share)."""
        paths = self.report.paths
        total = done + len(paths) * len(self.names)
        for begin in range(0, len(paths), self.batch_size):
            if should_stop is not None and should_stop():
                raise Stopped("stopped")
            self._batch(begin, paths[begin : begin + self.batch_size])
            done += len(paths[begin : begin + self.batch_size]) * len(self.names)
            if progress is not None:
                progress(done, total)

    def _batch(self, begin: int, chunk: list[str]) -> None:
        from resnet_gui.core.data import pipeline
        from resnet_gui.core.data.robustness import corrupt

        classifier = self.classifier
        images, errors = pipeline.decode_many(chunk, classifier.image_size, workers=2)
        failed = {e.path for e in errors}
        ok = np.array([p not in failed for p in chunk])
        for e in errors:  # changed since the scan
            self.unusable.append({"path": e.path, "reason": e.reason})
        self.keep[begin : begin + len(chunk)] = ok
        images = images[ok]
        if not len(images):
            return
        y = self.labels[begin : begin + len(chunk)][ok]
        self.raw[begin : begin + len(chunk)][ok] = classifier.predict_arrays(
            images, calibrated=False)
        for offset, name in enumerate(self.names[1:], start=1):
            p = classifier.predict_arrays(corrupt(images, name, seed=begin + offset))
            self.correct[name] += int((p.argmax(axis=1) == y).sum())


def _report(classifier: Classifier, report: DatasetReport, passes: _Passes) -> EvaluationReport:
    """The figures of the images that were read."""
    classes = list(classifier.class_names)
    keep = passes.keep
    labels, raw = passes.labels[keep], passes.raw[keep]
    kept_paths = [p for p, k in zip(report.paths, keep, strict=True) if k]
    probs = apply_temperature(raw, classifier.temperature)
    pred = probs.argmax(axis=1)
    accuracy, per_class, cm = metrics_from_predictions(labels, pred, classes)
    misclassified = [
        {"path": kept_paths[i], "true": classes[labels[i]], "predicted": classes[pred[i]],
         "probability": round(float(probs[i, pred[i]]), 6)}
        for i in np.flatnonzero(pred != labels)
    ]
    misclassified.sort(key=lambda m: -m["probability"])
    robust = len(passes.names) > 1
    return EvaluationReport(
        accuracy=accuracy,
        classes=classes,
        per_class=per_class,
        confusion_matrix=cm,
        misclassified=misclassified,
        suspected_label_errors=suspected_label_errors(kept_paths, labels, probs, classes),
        calibration={
            "temperature": round(float(classifier.temperature), 6),
            "ece": round(expected_calibration_error(probs, labels), 6),
            "ece_uncalibrated": round(expected_calibration_error(raw, labels), 6),
        },
        reliability=reliability(probs, labels),
        robustness=(
            {"clean": round(accuracy, 6),
             **{k: round(v / max(1, len(labels)), 6) for k, v in passes.correct.items()}}
            if robust else None
        ),
        unusable=passes.unusable,
        paths=kept_paths,
        labels=labels,
        probabilities=probs,
    )
