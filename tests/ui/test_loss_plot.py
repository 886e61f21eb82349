"""The live plot follows the whole run, and its legend never covers a curve."""

from __future__ import annotations

from resnet_gui.ui.widgets.loss_plot import LossPlot


def test_axis_spans_the_planned_run_and_legend_sits_apart(qtbot) -> None:  # noqa: ANN001
    plot = LossPlot()
    qtbot.addWidget(plot)
    plot.resize(700, 500)
    plot.show()
    for epoch in range(1, 61):
        for batch in (1, 2):
            plot.add_batch({"epoch": epoch, "epochs": 60, "batch": batch, "batches": 2,
                            "loss": 2.0 / epoch})
        plot.add_epoch({"epoch": epoch, "epochs": 60, "loss": 2.0 / epoch, "accuracy": 0.5,
                        "val_loss": 2.2 / epoch, "val_accuracy": 0.5})
    plot.flush()
    lo, hi = plot.x_range()
    assert lo <= 0.0 and 60.0 <= hi < 62.0  # epoch 60 is in view, not cut off at 10
    assert plot.point_counts() == (120, 60)
    legend = plot.legend.sceneBoundingRect()
    for area in (plot.loss_plot.vb, plot.acc_plot.vb):
        assert not legend.intersects(area.sceneBoundingRect())
    plot.clear()
    plot.add_batch({"epoch": 1, "epochs": 5, "batch": 1, "batches": 2, "loss": 1.0})
    assert plot.x_range()[1] < 6.0  # a new, shorter run gets its own axis
