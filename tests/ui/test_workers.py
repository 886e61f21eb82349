"""The worker: signals in strict order, plain data only, errors as messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from resnet_gui.core.base.config import TrainConfig
from resnet_gui.ui.workers import ThreadPool, Worker, training_work


@pytest.mark.slow
def test_training_worker_signals_in_strict_order(qtbot, tiny_data: Path) -> None:  # noqa: ANN001
    config = TrainConfig(str(tiny_data), epochs=2, batch_size=4, width=8, augment="none",
                         weights="none")
    worker = Worker(training_work(config), name="train")
    events: list[dict] = []
    worker.progressed.connect(events.append)
    pool = ThreadPool()
    with qtbot.waitSignals(
        [worker.started, worker.returned, worker.finished], order="strict", timeout=120_000
    ):
        pool.start(worker)
    kinds = [e["kind"] for e in events]
    assert kinds.count("epoch") == 2 and "batch" in kinds and "log" in kinds
    epochs = [e for e in events if e["kind"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert all(isinstance(v, (int, float, str, bool, type(None))) for e in events
               for v in e.values())
    assert pool.stop_all(10)


def test_worker_error_becomes_message_then_finished(qtbot) -> None:  # noqa: ANN001
    from resnet_gui.core.base.errors import DatasetError

    def fail(emit, should_stop):  # noqa: ANN001, ANN202
        raise DatasetError("dataset folder does not exist: /nope")

    worker = Worker(fail)
    messages: list[str] = []
    worker.errored.connect(lambda m, tb: messages.append(m))
    pool = ThreadPool()
    with qtbot.waitSignals([worker.started, worker.errored, worker.finished], order="strict",
                           timeout=10_000):
        pool.start(worker)
    assert messages == ["dataset folder does not exist: /nope"]
    pool.stop_all(5)


def test_submit_connects_and_refuses_unknown_signals(qtbot) -> None:  # noqa: ANN001
    from PySide6.QtCore import QObject, Slot

    class Sink(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.got: list[object] = []

        @Slot(object)
        def take(self, value: object) -> None:
            self.got.append(value)

    def work(emit, should_stop):  # noqa: ANN001, ANN202
        emit(1)
        return 2

    sink = Sink()
    pool = ThreadPool()
    worker = pool.submit(work, name="w", connect={"progressed": sink.take, "returned": sink.take})
    qtbot.waitUntil(lambda: sink.got == [1, 2], timeout=10_000)
    assert worker.name == "w"
    with pytest.raises(ValueError, match="unknown worker signal"):
        pool.submit(lambda emit, stop: None, name="x", connect={"done": sink.take})
    assert pool.stop_all(5)
