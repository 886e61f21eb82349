"""Help > How ResNet works: a drawn residual block and a short text on the ideas and depths."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

TEXT = """
<h3>Residual networks (He et al., 2015)</h3>
<p>A deep network is a stack of layers. Beyond a few dozen plain layers, training gets
<i>worse</i>, not better: the signal and its gradient fade on the long way through. ResNet
fixes this with a <b>skip connection</b>: each block learns only a correction
<b>F(x)</b> to its input and outputs <b>relu(F(x) + x)</b>. When the best thing to do is
nothing, the block just learns F = 0, so adding blocks never hurts, and gradients flow
straight back through the shortcuts.</p>
<p><b>Batch normalisation</b> follows every convolution: it rescales each channel to zero
mean and unit variance over the batch (and keeps running averages for prediction), which
makes training fast and stable. At the end, <b>global average pooling</b> turns each
feature map into one number, so the same network accepts any image size, and a single
dense layer with softmax gives the class probabilities.</p>
<table cellspacing="6">
<tr><th align="left">Depth</th><th align="left">Block</th><th align="left">Blocks per stage</th></tr>
<tr><td>ResNet-18</td><td>basic (two 3×3)</td><td>2, 2, 2, 2</td></tr>
<tr><td>ResNet-34</td><td>basic (two 3×3)</td><td>3, 4, 6, 3</td></tr>
<tr><td>ResNet-50</td><td>bottleneck (1×1, 3×3, 1×1)</td><td>3, 4, 6, 3</td></tr>
<tr><td>ResNet-101</td><td>bottleneck</td><td>3, 4, 23, 3</td></tr>
<tr><td>ResNet-152</td><td>bottleneck</td><td>3, 8, 36, 3</td></tr>
</table>
<p>Each stage halves the image and doubles the channels. With <b>ImageNet weights</b> a
network has already learned general visual features from 1.2 million photos, so a few
hundred of yours are enough to train a new head on top (transfer learning).</p>
"""


class ResidualBlockDiagram(QWidget):
    """Draws x → conv-BN-ReLU → conv-BN → ⊕ → ReLU, with the identity shortcut around it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(350, 470)

    def paintEvent(self, event: object) -> None:  # noqa: N802 - Qt API
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor("#ffffff"))
        font = QFont(self.font())
        font.setPointSize(10)
        p.setFont(font)
        cx, w, h = 130.0, 150.0, 32.0
        boxes = [("conv 3×3", "#cfe2f3"), ("BatchNorm", "#fde9c9"), ("ReLU", "#d9ead3"),
                 ("conv 3×3", "#cfe2f3"), ("BatchNorm", "#fde9c9")]
        pen = QPen(QColor("#333"), 1.6)
        p.setPen(pen)
        p.drawText(QRectF(cx - w / 2, 4, w, 20), Qt.AlignmentFlag.AlignCenter, "x")
        y = 40.0
        p.drawLine(QPointF(cx, 24), QPointF(cx, y))
        for label, color in boxes:
            rect = QRectF(cx - w / 2, y, w, h)
            p.setBrush(QColor(color))
            p.drawRoundedRect(rect, 6, 6)
            p.drawText(rect, Qt.AlignmentFlag.AlignCenter, label)
            p.drawLine(QPointF(cx, y + h), QPointF(cx, y + h + 18))
            y += h + 18
        # the sum node
        p.setBrush(QColor("#ffffff"))
        p.drawEllipse(QPointF(cx, y + 12), 12, 12)
        p.drawText(QRectF(cx - 12, y, 24, 24), Qt.AlignmentFlag.AlignCenter, "+")
        sum_y = y + 12
        p.drawLine(QPointF(cx, y + 24), QPointF(cx, y + 44))
        rect = QRectF(cx - w / 2, y + 44, w, h)
        p.setBrush(QColor("#d9ead3"))
        p.drawRoundedRect(rect, 6, 6)
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, "ReLU")
        p.drawText(QRectF(cx - w, y + 44 + h + 4, 2 * w, 20), Qt.AlignmentFlag.AlignCenter,
                   "relu(F(x) + x)")
        # the skip connection
        skip = QPainterPath(QPointF(cx, 30))
        right = cx + w / 2 + 40
        skip.lineTo(right, 30)
        skip.lineTo(right, sum_y)
        skip.lineTo(cx + 12, sum_y)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(QColor("#c0392b"), 2.2))
        p.drawPath(skip)
        p.drawText(QRectF(right + 4, (30 + sum_y) / 2 - 30, 120, 60),
                   Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                   "identity\nshortcut\n(skip)")
        p.setPen(QPen(QColor("#1f4e79"), 1))
        p.drawText(QRectF(4, 40, 40, 5 * 50), Qt.AlignmentFlag.AlignCenter, "F(x)")
        p.end()


class ResNetHelpDialog(QDialog):
    """The dialog shown by Help > How ResNet works."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("How ResNet works")
        body = QHBoxLayout()
        body.addWidget(ResidualBlockDiagram())
        text = QLabel(TEXT)
        text.setWordWrap(True)
        text.setTextFormat(Qt.TextFormat.RichText)
        text.setMinimumWidth(460)
        body.addWidget(text, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(body)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
