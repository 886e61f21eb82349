"""Evaluate a classifier on a labelled class-per-folder tree: accuracy, per-class metrics,
confusion matrix and the misclassified images."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from resnet_gui.core.dataset import scan_dataset
from resnet_gui.core.inference import Classifier


@dataclass
class EvaluationReport:
    """Metrics of one evaluation; ``confusion_matrix[i][j]`` counts true class i predicted j."""

    accuracy: float
    classes: list[str]
    per_class: dict[str, dict[str, float]]
    confusion_matrix: list[list[int]]
    misclassified: list[dict] = field(default_factory=list)
    unusable: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The JSON form printed by ``resnet-gui evaluate --format json``."""
        return {
            "accuracy": self.accuracy,
            "classes": self.classes,
            "per_class": self.per_class,
            "confusion_matrix": self.confusion_matrix,
            "misclassified": self.misclassified,
            "unusable": self.unusable,
        }


def metrics_from_predictions(
    y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]
) -> tuple[float, dict[str, dict[str, float]], list[list[int]]]:
    """Accuracy, per-class precision/recall/F1/support and the confusion matrix."""
    n = len(classes)
    cm = np.zeros((n, n), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    per_class: dict[str, dict[str, float]] = {}
    for i, name in enumerate(classes):
        tp = cm[i, i]
        predicted = cm[:, i].sum()
        support = cm[i, :].sum()
        precision = float(tp / predicted) if predicted else 0.0
        recall = float(tp / support) if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {
            "precision": round(precision, 6),
            "recall": round(recall, 6),
            "f1": round(f1, 6),
            "support": int(support),
        }
    accuracy = float(np.trace(cm) / cm.sum()) if cm.sum() else 0.0
    return accuracy, per_class, cm.tolist()


def evaluate(
    classifier: Classifier,
    data_dir: str | os.PathLike[str],
    *,
    batch_size: int = 32,
    progress: Callable[[int, int], None] | None = None,
) -> EvaluationReport:
    """Classify every usable image under ``data_dir`` (folders named as the model's classes).

    Raises:
        DatasetError: the folder is missing, empty, or has classes the model does not know.
    """
    report = scan_dataset(data_dir, classes=classifier.class_names)
    y_true = report.labels
    index = {name: i for i, name in enumerate(classifier.class_names)}
    y_pred = np.zeros_like(y_true)
    prob = np.zeros(len(y_true), dtype=np.float64)
    done = 0
    for batch in classifier.iter_predict(report.paths, top_k=1, batch_size=batch_size):
        for pred in batch:
            y_pred[done] = index[pred.labels[0]] if pred.labels else -1
            prob[done] = pred.probabilities[0] if pred.probabilities else 0.0
            done += 1
        if progress is not None:
            progress(done, len(y_true))
    ok = y_pred >= 0
    accuracy, per_class, cm = metrics_from_predictions(
        y_true[ok], y_pred[ok], classifier.class_names
    )
    misclassified = [
        {
            "path": report.images[i].path,
            "true": classifier.class_names[y_true[i]],
            "predicted": classifier.class_names[y_pred[i]],
            "probability": round(float(prob[i]), 6),
        }
        for i in np.flatnonzero(ok & (y_pred != y_true))
    ]
    misclassified.sort(key=lambda m: -m["probability"])
    return EvaluationReport(
        accuracy=accuracy,
        classes=list(classifier.class_names),
        per_class=per_class,
        confusion_matrix=cm,
        misclassified=misclassified,
        unusable=[{"path": u.path, "reason": u.reason} for u in report.unusable],
    )
