"""The Evaluation tab's charts: the reliability diagram and the robustness bars (pyqtgraph)."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


class _Chart(QWidget):
    """A sentence over a plot with fixed 0-1 accuracy axis."""

    def __init__(self, left: str) -> None:
        super().__init__()
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.plot = pg.PlotWidget()
        self.plot.setLabel("left", left)
        self.plot.setYRange(0, 1, padding=0.02)
        self.plot.setMouseEnabled(x=False, y=False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(self.plot, 1)


class ReliabilityChart(_Chart):
    """Accuracy per confidence bin against the diagonal of perfect calibration."""

    def __init__(self) -> None:
        super().__init__("accuracy")
        self.plot.setLabel("bottom", "confidence")
        self.plot.setXRange(0, 1, padding=0.02)

    def show_report(self, report: Any) -> None:
        """Draw ``report``'s calibration (None: empty)."""
        self.plot.clear()
        if report is None:
            self.label.setText("")
            return
        cal = report.calibration
        self.label.setText(
            f"Temperature {cal['temperature']:.2f}. Expected calibration error {cal['ece']:.3f} "
            f"(without calibration {cal['ece_uncalibrated']:.3f}): on average, the stated "
            "confidence is off from the real accuracy by this much. Bars on the diagonal are "
            "perfect calibration; below it, the model is over-confident."
        )
        self.plot.plot([0, 1], [0, 1], pen=pg.mkPen("#999", style=Qt.PenStyle.DashLine))
        bins = [b for b in report.reliability if b["count"]]
        if bins:
            self.plot.addItem(pg.BarGraphItem(
                x=[(b["low"] + b["high"]) / 2 for b in bins],
                height=[b["accuracy"] for b in bins],
                width=(bins[0]["high"] - bins[0]["low"]) * 0.9, brush="#1f77b4",
            ))


class RobustnessChart(_Chart):
    """Accuracy on clean images and on each corruption; red where it drops by over 10 points."""

    def __init__(self) -> None:
        super().__init__("accuracy")
        self.show_report(None)

    def show_report(self, report: Any) -> None:
        """Draw ``report``'s robustness (None, or a report without it: a hint)."""
        self.plot.clear()
        if report is None or not report.robustness:
            self.label.setText(
                "Tick Robustness and evaluate to see accuracy on corrupted copies of the images."
            )
            return
        rob = report.robustness
        names = list(rob)
        values = [rob[n] for n in names]
        worst = min(names[1:], key=lambda n: rob[n]) if len(names) > 1 else None
        self.label.setText(
            "Accuracy on corrupted copies of the same images (docs/evaluation.md)."
            + (f" Weakest: {worst} ({rob[worst]:.1%})." if worst else "")
        )
        colors = ["#2ca02c"] + ["#d62728" if v < values[0] - 0.1 else "#1f77b4"
                                for v in values[1:]]
        self.plot.addItem(pg.BarGraphItem(x=list(range(len(names))), height=values, width=0.7,
                                          brushes=colors))
        self.plot.getAxis("bottom").setTicks([list(enumerate(names))])
