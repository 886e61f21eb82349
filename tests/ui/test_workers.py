"""The worker: signals in strict order, plain data only, errors as messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Slot

from resnet_gui.core.base.config import TrainConfig
from resnet_gui.ui.workers import ThreadPool, Worker, training_work


class Recorder(QObject):
    """Records a worker's signals in the GUI thread, as the app's slots receive them.

    Not ``qtbot.waitSignals``: its callbacks are no QObject's slots, so Qt runs them in the
    worker's thread. A worker that ends at once then quits the wait's event loop before it runs
    and stops its timer from the wrong thread: the wait hung for good once in the full suite.
    """

    def __init__(self, worker: Worker) -> None:
        super().__init__()
        self.names: list[str] = []
        self.messages: list[str] = []
        self.events: list[dict] = []
        worker.started.connect(self.started)
        worker.progressed.connect(self.progressed)
        worker.returned.connect(self.returned)
        worker.errored.connect(self.errored)
        worker.finished.connect(self.finished)

    @Slot()
    def started(self) -> None:
        self.names.append("started")

    @Slot(object)
    def progressed(self, event: object) -> None:
        self.events.append(event)  # type: ignore[arg-type]

    @Slot(object)
    def returned(self, result: object) -> None:
        self.names.append("returned")

    @Slot(str, str)
    def errored(self, message: str, details: str) -> None:
        self.names.append("errored")
        self.messages.append(message)

    @Slot()
    def finished(self) -> None:
        self.names.append("finished")


@pytest.mark.slow
def test_training_worker_signals_in_strict_order(qtbot, tiny_data: Path) -> None:  # noqa: ANN001
    config = TrainConfig(str(tiny_data), epochs=2, batch_size=4, width=8, augment="none",
                         weights="none")
    worker = Worker(training_work(config), name="train")
    seen = Recorder(worker)
    pool = ThreadPool()
    pool.start(worker)
    qtbot.waitUntil(lambda: "finished" in seen.names, timeout=120_000)
    assert seen.names == ["started", "returned", "finished"]
    events = seen.events
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
    seen = Recorder(worker)
    pool = ThreadPool()
    pool.start(worker)  # it fails at once: every signal may come before any wait begins
    qtbot.waitUntil(lambda: "finished" in seen.names, timeout=10_000)
    assert seen.names == ["started", "errored", "finished"]
    assert seen.messages == ["dataset folder does not exist: /nope"]
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


def test_garbage_is_collected_in_the_gui_thread_only(qtbot) -> None:  # noqa: ANN001
    """A cycle that becomes garbage while a worker thread allocates is not collected there
    (where it could destroy Qt objects), but by the GUI thread's timer."""
    import gc
    import threading

    from resnet_gui.ui.workers import collect_garbage_in_gui_thread

    in_gui_thread: list[bool] = []

    class Cycle:
        def __del__(self) -> None:
            in_gui_thread.append(threading.current_thread() is threading.main_thread())

    held: list[list] = []

    def churn() -> None:
        cycle = Cycle()
        cycle.me = cycle  # type: ignore[attr-defined]
        del cycle
        # Kept alive: the count of new objects stays far past an automatic collection's
        # threshold (700), as a worker building a batch would leave it.
        held.extend([] for _ in range(20_000))

    stop = collect_garbage_in_gui_thread(0.05)
    try:
        worker = threading.Thread(target=churn)
        worker.start()
        worker.join()
        assert in_gui_thread == []  # not collected in the worker thread
        qtbot.waitUntil(lambda: bool(in_gui_thread), timeout=5_000)
        assert in_gui_thread == [True]
    finally:
        stop()
        held.clear()
    assert gc.isenabled()
    gc.disable()  # as the module's collector (tests/ui/conftest.py) keeps it for later tests


def test_receivers_that_may_run_in_the_worker_thread_are_refused(qtbot) -> None:  # noqa: ANN001
    """Lambdas, functions and slots a mixin defines are refused; a QObject class's own (or
    inherited) slot, Qt's own methods and a signal are taken."""
    from PySide6.QtCore import Signal
    from PySide6.QtWidgets import QWidget

    from resnet_gui.ui.workers import check_gui_slot

    class Mixin:
        @Slot(object)
        def mixed(self, value: object) -> None: ...

    class Base(QWidget):
        said = Signal(object)

        @Slot(object)
        def own(self, value: object) -> None: ...

    class Tab(Mixin, Base):
        pass

    tab = Tab()
    check_gui_slot(tab.own)
    check_gui_slot(tab.said)
    check_gui_slot(tab.setWindowTitle)  # Qt's own slot
    for bad in (tab.mixed, lambda value: None, print):
        with pytest.raises(ValueError, match="worker's thread"):
            check_gui_slot(bad)
    with pytest.raises(ValueError, match=r"Mixin\.mixed is defined in a class that is not a QObj"):
        ThreadPool().submit(lambda emit, stop: None, name="x", connect={"progressed": tab.mixed})


def test_the_tabs_worker_slots_run_in_the_gui_thread(qtbot, window) -> None:  # noqa: ANN001
    """The Evaluation tab's thumbnails and the Inference tab's heat-maps arrive in the GUI
    thread: PySide6 6.11 ran the Evaluation tab's thumbnail slot in the worker's thread (then
    defined in a mixin), where it touched the image lists and deadlocked a test once."""
    import threading

    threads: list[str] = []

    def record(*_args: object) -> None:
        threads.append(threading.current_thread().name)

    def work(emit, should_stop):  # noqa: ANN001, ANN202
        emit(("photo.png", None))
        return 0

    evaluation, inference = window.evaluation_tab, window.inference_tab
    evaluation._take_thumbnail = record
    inference._take_overlays = record
    inference._explain_end = record
    window.pool.submit(work, name="t", connect={"progressed": evaluation._thumbnail})
    window.pool.submit(work, name="e", connect={"progressed": inference._overlays_ready,
                                                "returned": inference._explain_done})
    qtbot.waitUntil(lambda: len(threads) == 3, timeout=10_000)
    assert threads == ["MainThread"] * 3
