"""Live training curves: loss (per batch, smoothed, and per epoch) and accuracy per epoch."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QVBoxLayout, QWidget

pg.setConfigOptions(antialias=True, background="w", foreground="#333")


class LossPlot(QWidget):
    """Two stacked plots sharing the epoch axis, under one legend of their own (never on top of
    a curve). The epoch axis spans the planned run from its first point, so a 60-epoch run is
    seen whole. Points arrive any time; redraws happen at most twice a second, updating
    existing curves in place (no flicker, no rebuild)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = pg.GraphicsLayoutWidget()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.legend = pg.LegendItem(colCount=3, verSpacing=-6, horSpacing=16)
        self.view.addItem(self.legend, row=0, col=0)
        self.loss_plot = self.view.addPlot(row=1, col=0)
        self.acc_plot = self.view.addPlot(row=2, col=0)
        self.view.ci.layout.setRowStretchFactor(1, 3)
        self.view.ci.layout.setRowStretchFactor(2, 2)
        self.acc_plot.setXLink(self.loss_plot)
        for plot, label in ((self.loss_plot, "loss"), (self.acc_plot, "accuracy")):
            plot.showGrid(x=True, y=True, alpha=0.25)
            plot.setLabel("left", label)
            plot.setLabel("bottom", "epoch")
            plot.setMouseEnabled(x=True, y=False)
            for side in ("left", "bottom"):
                plot.getAxis(side).enableAutoSIPrefix(False)  # no "epoch (x0.001)"
        self.acc_plot.setYRange(0, 1.0, padding=0.02)
        self.planned_epochs = 0
        blue, orange, green = "#1f77b4", "#ff7f0e", "#2ca02c"
        self.batch_curve = self.loss_plot.plot(
            name="training loss (per batch, smoothed)", pen=pg.mkPen("#9ecae1", width=1.5)
        )
        self.train_loss_curve = self.loss_plot.plot(
            name="training loss (epoch)", pen=pg.mkPen(blue, width=2), symbol="o", symbolSize=5,
            symbolBrush=blue,
        )
        self.val_loss_curve = self.loss_plot.plot(
            name="validation loss", pen=pg.mkPen(orange, width=2), symbol="s", symbolSize=5,
            symbolBrush=orange,
        )
        self.train_acc_curve = self.acc_plot.plot(
            name="training accuracy", pen=pg.mkPen(blue, width=2), symbol="o", symbolSize=5,
            symbolBrush=blue,
        )
        self.val_acc_curve = self.acc_plot.plot(
            name="validation accuracy", pen=pg.mkPen(green, width=2), symbol="s", symbolSize=5,
            symbolBrush=green,
        )
        for curve in (self.batch_curve, self.train_loss_curve, self.val_loss_curve,
                      self.train_acc_curve, self.val_acc_curve):
            self.legend.addItem(curve, curve.name())
        self.clear()
        self._timer = QTimer(self)
        self._timer.setInterval(500)
        self._timer.timeout.connect(self._redraw)
        self._timer.start()

    def clear(self) -> None:
        """Forget all points."""
        self.batch_x: list[float] = []
        self.batch_y: list[float] = []
        self._ema: float | None = None
        self.epochs: list[dict] = []
        self.planned_epochs = 0  # so the next line always resets a panned axis
        self.set_planned_epochs(10)
        self._dirty = True

    def set_planned_epochs(self, epochs: int) -> None:
        """Let the epoch axis span ``epochs`` (the run's planned length)."""
        epochs = max(1, int(epochs))
        if epochs != self.planned_epochs:
            self.planned_epochs = epochs
            self.loss_plot.setXRange(0, epochs, padding=0.02)

    def add_batch(self, stats: dict) -> None:
        """Add a batch's loss (``epoch``, ``batch``, ``batches``, ``loss`` keys)."""
        self.set_planned_epochs(max(stats["epochs"], stats["epoch"]))
        loss = float(stats["loss"])
        if not math.isfinite(loss):
            return
        self._ema = loss if self._ema is None else 0.9 * self._ema + 0.1 * loss
        self.batch_x.append(stats["epoch"] - 1 + stats["batch"] / max(1, stats["batches"]))
        self.batch_y.append(self._ema)
        self._dirty = True

    def add_epoch(self, stats: dict) -> None:
        """Add an epoch's summary (``epoch``, ``loss``, ``accuracy``, ``val_*`` keys)."""
        self.set_planned_epochs(max(stats["epochs"], stats["epoch"]))
        self.epochs.append(dict(stats))
        self._dirty = True

    def x_range(self) -> tuple[float, float]:
        """The epoch axis's visible range."""
        lo, hi = self.loss_plot.viewRange()[0]
        return float(lo), float(hi)

    def point_counts(self) -> tuple[int, int]:
        """(batch points, epoch points) received so far."""
        return len(self.batch_x), len(self.epochs)

    def _redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        self.batch_curve.setData(self.batch_x, self.batch_y)
        xs = [float(e["epoch"]) for e in self.epochs]
        self.train_loss_curve.setData(xs, [e["loss"] for e in self.epochs])
        self.train_acc_curve.setData(xs, [e["accuracy"] for e in self.epochs])
        val = [e for e in self.epochs if e.get("val_loss") is not None]
        vx = [float(e["epoch"]) for e in val]
        self.val_loss_curve.setData(vx, [e["val_loss"] for e in val])
        self.val_acc_curve.setData(vx, [e["val_accuracy"] for e in val])

    def flush(self) -> None:
        """Redraw now (tests and screenshots)."""
        self._dirty = True
        self._redraw()

    def export_png(self, path: str) -> bool:
        """Save the plots as a PNG image; True on success."""
        self.flush()
        return self.view.grab().save(path, "PNG")
