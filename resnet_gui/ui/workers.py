"""The only place QThreads are made. Work runs in a QThread; only plain data crosses threads.

A :class:`Worker` runs a function ``fn(report, should_stop)`` in its own thread and emits signals in
a fixed order: ``started``, any number of ``progressed``, then ``returned`` or ``errored``, and
always ``finished`` last. Stopping is cooperative: :meth:`Worker.stop` sets a
``threading.Event`` directly from the GUI thread (a slot in the busy thread would never run);
the work polls it. Nothing here ever touches a widget. :meth:`ThreadPool.submit` makes, wires and
starts a worker in one call (after superqt's ``create_worker(..., _connect={...})``).

The work functions below are thin: each calls one core function. Training itself runs in a child
process (``core.train.remote``); its thread only relays messages.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import (
    QCoreApplication,
    QEventLoop,
    QObject,
    QThread,
    Signal,
    SignalInstance,
    Slot,
)

Report = Callable[[Any], None]
WorkFn = Callable[[Report, Callable[[], bool]], Any]

#: The signals :meth:`ThreadPool.submit` can connect.
SIGNALS = ("started", "progressed", "returned", "errored", "finished")


class Worker(QObject):
    """Runs one function in a worker thread; see the module docstring for the signal order.

    A work function that raises :class:`~resnet_gui.core.base.errors.Stopped` (the user asked
    to stop it) ends with ``returned(None)``: the slots of stoppable work (scan, training,
    evaluation) read None as "stopped"; the others' work never raises it.
    """

    started = Signal()
    progressed = Signal(object)
    returned = Signal(object)
    errored = Signal(str, str)  # (message for the user, details/traceback for the log)
    finished = Signal()

    def __init__(self, fn: WorkFn, *, name: str = "worker") -> None:
        super().__init__()
        self._fn = fn
        self.name = name
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask the work to stop (safe from any thread)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` was called."""
        return self._stop.is_set()

    @Slot()
    def run(self) -> None:
        """Run the work (in the worker thread)."""
        self.started.emit()
        from resnet_gui.core.base.errors import Stopped

        try:
            result = self._fn(self.progressed.emit, self._stop.is_set)
        except Stopped:  # asked for: not a failure, and no result
            self.returned.emit(None)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message for the user
            from resnet_gui.core.base.errors import describe_exception

            details = getattr(exc, "child_traceback", None)
            self.errored.emit(
                describe_exception(exc), traceback.format_exc() if details is None else details
            )
        else:
            self.returned.emit(result)
        finally:
            self.finished.emit()


def check_gui_slot(slot: Callable) -> None:
    """Refuse a receiver of a worker's signal that PySide6 may call in the worker's thread.

    A signal, a Qt class's own method (``QLabel.setText``), or a method found in the
    ``__dict__`` of a QObject class (the receiver's class or a QObject base) is delivered in
    the receiver's thread. A lambda or a function has no thread, and a slot defined in a plain
    mixin class was called in the emitting thread too (PySide6 6.11: the Evaluation tab's
    thumbnails, once another signal of the tab had been connected to a method that is not a
    slot), where it touched widgets and deadlocked.

    Raises:
        ValueError: ``slot`` is none of these.
    """
    if isinstance(slot, SignalInstance):
        return
    receiver, function = getattr(slot, "__self__", None), getattr(slot, "__func__", None)
    if isinstance(receiver, QObject) and function is None:
        return  # a Qt class's own method (QLabel.setText): a slot of the C++ class
    if isinstance(receiver, QObject):
        name = function.__name__
        owner = next((c for c in type(receiver).__mro__ if name in c.__dict__), None)
        if owner is not None and issubclass(owner, QObject):
            return
        raise ValueError(f"{owner.__name__ if owner else '?'}.{name} is defined in a class that "
                         "is not a QObject (a mixin): PySide6 may run it in the worker's "
                         "thread; declare the slot in the QObject class")
    raise ValueError(f"{slot!r} is not a method of a QObject: it would run in the worker's "
                     "thread; connect a slot of a GUI-thread object")


class ThreadPool(QObject):
    """Starts workers in their own QThreads and keeps them until they finish; joins at exit.

    It lives in the GUI thread, so its slot runs there when a thread ends.
    """

    def __init__(self) -> None:
        super().__init__()
        self._running: dict[Worker, QThread] = {}

    def submit(self, fn: WorkFn, *, name: str, connect: dict[str, Callable] | None = None) -> Worker:
        """Make a :class:`Worker` for ``fn``, connect its signals and start it.

        Args:
            fn: the work function.
            name: the worker's (and its thread's) name.
            connect: signal name -> a signal, or a bound ``@Slot`` defined in the class body
                of a GUI-thread QObject. Not a lambda or a function (no thread of their own),
                nor a method a mixin class defines: PySide6 ran each in the worker's thread
                (see docs/architecture.md).

        Raises:
            ValueError: an unknown signal name, or a slot that may run in the worker's thread.
        """
        worker = Worker(fn, name=name)
        for signal, slot in (connect or {}).items():
            if signal not in SIGNALS:
                raise ValueError(f"unknown worker signal; Received: {signal}")
            check_gui_slot(slot)
            getattr(worker, signal).connect(slot)
        return self.start(worker)

    def start(self, worker: Worker) -> Worker:
        """Start ``worker`` in a new QThread; returns it for chaining."""
        thread = QThread()
        thread.setObjectName(worker.name)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.finished.connect(thread.quit)
        thread.finished.connect(self._thread_finished)
        self._running[worker] = thread
        thread.start()
        return worker

    @Slot()
    def _thread_finished(self) -> None:
        thread = self.sender()
        for worker, t in list(self._running.items()):
            if t is thread:
                self._running.pop(worker)
                t.wait()
                t.deleteLater()

    def running(self, name: str | None = None) -> list[Worker]:
        """Workers not yet finished (optionally only those named ``name``)."""
        return [w for w, t in self._running.items() if t.isRunning() and (name in (None, w.name))]

    def stop_all(self, timeout_s: float = 30.0) -> bool:
        """Ask every worker to stop and wait for their threads; True when all ended in time.

        ``QThread.wait()`` in PySide6 keeps the GIL while it blocks, so a Python worker could
        never reach its next stop check: we sleep in small steps (which releases the GIL) and
        keep delivering queued, non-input events instead. Threads still running at the
        deadline are kept referenced (destroying a running QThread aborts the process).
        """
        for worker in list(self._running):
            worker.stop()
        deadline = time.monotonic() + timeout_s
        while any(t.isRunning() for t in self._running.values()):
            if time.monotonic() > deadline:
                break
            QCoreApplication.processEvents(
                QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents, 20
            )
            time.sleep(0.02)
        ok = True
        for worker, thread in list(self._running.items()):
            if thread.isRunning():
                ok = False
                _ORPHANS.append((worker, thread))
            else:
                thread.wait()
            self._running.pop(worker, None)
        return ok


#: Threads that outlived stop_all; kept referenced so Qt never destroys them while running.
_ORPHANS: list[tuple[Worker, QThread]] = []


def collect_garbage_in_gui_thread(interval_s: float = 0.5) -> Callable[[], None]:
    """Run Python's cyclic garbage collector only in the GUI thread, from a timer, until the
    returned function is called (it collects once more and turns automatic collection back on).

    Left automatic, a collection runs in whichever thread happens to allocate: a worker thread
    then destroys the Qt objects of a cycle there. Seen in the test suite: a model-loading
    worker, collecting inside h5py, destroyed a widget and waited for the GIL while holding a
    Qt lock that the GUI thread, holding the GIL, waited for: the window froze for good. The
    timer is pyqtgraph's ``GarbageCollector`` (automatic collection off, the same thresholds
    checked every ``interval_s``). Call it in the GUI thread with a QApplication running.
    """
    import gc

    from pyqtgraph.util.garbage_collector import GarbageCollector

    collector = GarbageCollector(interval=interval_s)

    def stop() -> None:
        collector.timer.stop()
        gc.collect()
        gc.enable()

    return stop


def training_work(
    config: Any, report: Any = None, abort: threading.Event | None = None
) -> WorkFn:
    """Train in a child process (``core.train.remote.train_in_subprocess``). Progress events are the
    core's event dicts with a ``kind`` key ("batch", "epoch", "log"); the result is the core's
    ``TrainResult`` with its model loaded, or None when stopped before the first batch
    (or ``abort`` was set: the child is then killed at once)."""

    def work(emit: Report, should_stop: Callable[[], bool]) -> Any:
        from resnet_gui.core.train.remote import train_in_subprocess

        return train_in_subprocess(
            config,
            on_batch=lambda e: emit({"kind": "batch", **e}),
            on_epoch=lambda e: emit({"kind": "epoch", **e}),
            on_log=lambda e: emit({"kind": "log", **e}),
            should_stop=should_stop,
            report=report,
            should_abort=abort.is_set if abort is not None else None,
        )

    return work


def scan_work(folder: str) -> WorkFn:
    """The work function of a dataset scan: progress is (done, total); result a DatasetReport."""

    def work(emit: Report, should_stop: Callable[[], bool]) -> Any:
        from resnet_gui.core.data.dataset import scan_dataset

        return scan_dataset(folder, progress=lambda d, t: emit((d, t)), should_stop=should_stop)

    return work


def tensorflow_work() -> WorkFn:
    """Import TensorFlow in the background; the result is the device description."""

    def work(emit: Report, should_stop: Callable[[], bool]) -> Any:
        from resnet_gui.core.base.tfsetup import device_description, versions
        from resnet_gui.core.model.build import keras_module

        keras_module()
        return {"device": device_description(), **versions()}

    return work


#: What :func:`load_model_work` returns for a model that does not say how its input is scaled.
NEEDS_INPUT_SCALE = "needs-input-scale"


def load_model_work(path: str, input_scale: str | None = None) -> WorkFn:
    """Load a model file off the GUI thread; the result is a core Classifier, or
    ``(NEEDS_INPUT_SCALE, path, message)`` when the user must say how pixels are scaled."""

    def work(emit: Report, should_stop: Callable[[], bool]) -> Any:
        from resnet_gui.core.model.files import InputScaleNeeded
        from resnet_gui.core.use.inference import Classifier

        try:
            return Classifier.load(path, input_scale)
        except InputScaleNeeded as exc:
            return (NEEDS_INPUT_SCALE, path, str(exc))

    return work


def imagenet_work() -> WorkFn:
    """Load the stock ImageNet ResNet-50; the result is a core Classifier."""

    def work(emit: Report, should_stop: Callable[[], bool]) -> Any:
        from resnet_gui.core.use.imagenet import imagenet_classifier

        return imagenet_classifier()

    return work


def predict_work(
    classifier: Any, paths: list[str], top_k: int, thumb_size: int = 96, batch_size: int = 16,
    min_confidence: float = 0.0,
) -> WorkFn:
    """Classify files in batches. Each progress event is a list of dicts: path, predictions
    (label, probability) or error, uncertain, and an upright uint8 thumbnail from the same
    decode."""

    def work(emit: Report, should_stop: Callable[[], bool]) -> Any:
        done = 0
        for batch in classifier.iter_predict_with_thumbnails(
            paths, thumb_size, top_k=top_k, batch_size=batch_size, should_stop=should_stop,
            min_confidence=min_confidence,
        ):
            emit([{**pred.to_dict(), "thumbnail": thumb} for pred, thumb in batch])
            done += len(batch)
        return done

    return work


def evaluate_work(classifier: Any, data: Any, robustness: bool) -> WorkFn:
    """Evaluate (``core.use.evaluation.evaluate``); progress is (done, total); the result is an
    EvaluationReport, or None when stopped."""

    def work(emit: Report, should_stop: Callable[[], bool]) -> Any:
        from resnet_gui.core.use.evaluation import evaluate

        return evaluate(classifier, data, robustness=robustness,
                        progress=lambda d, t: emit((d, t)), should_stop=should_stop)

    return work


def review_work(classifier: Any, inputs: list[str], labelled: list[str]) -> WorkFn:
    """Order unlabelled photos for labelling (``core.use.review.review``); progress is (done,
    total); the result is (the ReviewItems in order, unreadable path -> reason), or None when
    stopped."""

    def work(emit: Report, should_stop: Callable[[], bool]) -> Any:
        from resnet_gui.core.use.review import review

        return review(classifier, inputs, labelled=labelled, should_stop=should_stop,
                      progress=lambda d, t: emit((d, t)))

    return work


def thumbnails_work(paths: list[str], size: int = 96) -> WorkFn:
    """Decode upright thumbnails; each progress event is (path, uint8 array or None)."""

    def work(emit: Report, should_stop: Callable[[], bool]) -> Any:
        import numpy as np

        from resnet_gui.core.base.errors import ImageError
        from resnet_gui.core.data.images import open_image

        for path in paths:
            if should_stop():
                return None
            try:
                img = open_image(path, draft=size)
                img.thumbnail((size, size))
                emit((path, np.asarray(img, dtype=np.uint8)))
            except ImageError:
                emit((path, None))
        return len(paths)

    return work


def explain_work(classifier: Any, paths: list[str], size: int = 96) -> WorkFn:
    """Grad-CAM overlay thumbnails. Each progress event is (the classifier's ``id``, a list of
    (path, array or None)); the result is that ``id``, so a receiver can drop the maps of a
    model it no longer shows."""

    def work(emit: Report, should_stop: Callable[[], bool]) -> Any:
        from resnet_gui.core.use.explain import explained_thumbnails

        key = id(classifier)
        for batch in explained_thumbnails(classifier, paths, size, should_stop=should_stop):
            emit((key, batch))
        return key

    return work


def explain_one_work(classifier: Any, path: str) -> WorkFn:
    """One photo at full size with its heat-map: the result is (RGB array, heat-map, label)."""

    def work(emit: Report, should_stop: Callable[[], bool]) -> Any:
        import numpy as np

        from resnet_gui.core.data.images import open_image
        from resnet_gui.core.use.explain import explain

        img = open_image(path)
        img.thumbnail((1024, 1024))
        label = classifier.class_names[int(np.argmax(classifier.predict_arrays([np.asarray(img)])))]
        return np.asarray(img, np.uint8), explain(classifier, img, label), label

    return work


def sort_work(classifier: Any, inputs: list[str], out: str, move: bool,
              min_confidence: float) -> WorkFn:
    """``core.use.sorting.sort_into``; progress is (done, total); the result is a SortReport."""

    def work(emit: Report, should_stop: Callable[[], bool]) -> Any:
        from resnet_gui.core.use.sorting import sort_into

        return sort_into(classifier, inputs, out, move=move, min_confidence=min_confidence,
                         progress=lambda d, t: emit((d, t)), should_stop=should_stop)

    return work


def export_work(classifier: Any, fmt: str, out: str, int8: bool, calibration: str | None,
                check: str | None) -> WorkFn:
    """Export, then (with ``check``) compare in the export's runtime; progress is a text line;
    the result is (Exported, CheckResult or None)."""

    def work(emit: Report, should_stop: Callable[[], bool]) -> Any:
        from resnet_gui.core.use.export_check import export_and_check

        return export_and_check(classifier, fmt, out, int8=int8, calibration=calibration,
                                check=check, progress=emit, should_stop=should_stop)

    return work
