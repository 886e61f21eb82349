"""The worker: signals in strict order, plain data only, errors as messages."""

from __future__ import annotations

from pathlib import Path

from resnet_gui.core.training import TrainConfig
from resnet_gui.ui.workers import ThreadPool, Throttle, Worker, training_work


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
    from resnet_gui.core.errors import DatasetError

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


def test_throttle_passes_first_last_and_spaced() -> None:
    got: list[int] = []
    t = Throttle(got.append, interval_s=3600)
    for i in range(100):
        t(i, force=(i == 99))
    assert got == [0, 99]
