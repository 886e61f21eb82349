"""Training in a child process, driven by plain messages (for the GUI).

TensorFlow holds the GIL inside some C++ calls (graph tracing, dataset iterator creation) for
hundreds of milliseconds; in a thread of the GUI process that froze the window (a 388 ms stall
measured with a QThread ``fit``). In a child process it cannot. The child runs the same
:func:`~resnet_gui.core.training.train` and sends dicts through a queue: ``{"kind": "batch" |
"epoch" | "log" | "result" | "error", ...}``. Stop is a ``multiprocessing.Event``. The trained
model travels as a ``.keras`` file in a temporary folder.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from resnet_gui.core.errors import TrainingError

#: Batch events are sent at most this often (the rest are summarised by the next one).
BATCH_INTERVAL_S = 0.1


def _child_main(config: Any, report: Any, events: Any, stop: Any, model_path: str) -> None:
    """Entry point of the training process."""
    from resnet_gui.core.errors import ResnetGuiError
    from resnet_gui.core.training import train

    if hasattr(os, "nice"):
        # Training takes every core it can; the window must still get one when it needs it.
        try:
            os.nice(5)
        except OSError:
            pass
    last = [0.0]

    def on_batch(stats: dict) -> None:
        now = time.monotonic()
        if now - last[0] >= BATCH_INTERVAL_S or stats["batch"] == stats["batches"]:
            last[0] = now
            events.put({"kind": "batch", **stats})

    try:
        result = train(
            config,
            on_batch=on_batch,
            on_epoch=lambda s: events.put({"kind": "epoch", **s}),
            on_log=lambda d: events.put({"kind": "log", **d}),
            should_stop=stop.is_set,
            report=report,
        )
        result.save(model_path)
        events.put({
            "kind": "result",
            "model_path": model_path,
            "class_names": result.class_names,
            "history": result.history,
            "best_epoch": result.best_epoch,
            "val_accuracy": result.val_accuracy,
            "stopped": result.stopped,
            "seconds": result.seconds,
            "plan": result.plan.to_dict(),
            "num_train": result.num_train,
            "num_val": result.num_val,
        })
    except ResnetGuiError as exc:
        events.put({"kind": "error", "message": str(exc), "traceback": traceback.format_exc()})
    except Exception as exc:  # noqa: BLE001 - reported to the parent as a message
        from resnet_gui.core.errors import describe_exception

        events.put({
            "kind": "error", "message": describe_exception(exc),
            "traceback": traceback.format_exc(),
        })


@dataclass
class RemoteTrainResult:
    """What the GUI keeps of a run made in a child process (same fields as TrainResult)."""

    model_path: str
    class_names: list[str]
    history: list[dict]
    best_epoch: int | None
    val_accuracy: float | None
    stopped: bool
    seconds: float
    plan: dict = field(default_factory=dict)
    num_train: int = 0
    num_val: int = 0
    model: Any = None

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Copy the trained model file to ``path`` atomically.

        Raises:
            ModelFileError: the path does not end in ``.keras`` or cannot be written.
        """
        from resnet_gui.core.inference import atomic_save

        return atomic_save(path, lambda tmp: shutil.copyfile(self.model_path, tmp))


class TrainingProcess:
    """A training run in a child process. Iterate :meth:`events`; call :meth:`stop` any time."""

    def __init__(self, config: Any, report: Any = None) -> None:
        ctx = mp.get_context("spawn")  # fork would copy TensorFlow's and Qt's threads' state
        self.workdir = Path(tempfile.mkdtemp(prefix="resnet-gui-train-"))
        self.model_path = str(self.workdir / "model.keras")
        self._events = ctx.Queue()
        self._stop = ctx.Event()
        self._process = ctx.Process(
            target=_child_main,
            args=(config, report, self._events, self._stop, self.model_path),
            name="resnet-gui-training",
            daemon=True,
        )
        self._process.start()

    def stop(self) -> None:
        """Ask the child to stop after its current batch (it still sends its result)."""
        self._stop.set()

    def events(
        self, should_stop: Callable[[], bool] | None = None, grace_s: float = 60.0
    ) -> Iterator[dict]:
        """Messages from the child until its result or error (the last message).

        ``should_stop`` is polled; once True, the child is asked to stop, and killed if it has
        not finished ``grace_s`` seconds later.

        Raises:
            TrainingError: the child died without a result.
        """
        stop_since: float | None = None
        while True:
            if should_stop is not None and should_stop() and stop_since is None:
                self.stop()
                stop_since = time.monotonic()
            try:
                event = self._events.get(timeout=0.05)
            except queue.Empty:
                if not self._process.is_alive():
                    raise TrainingError(
                        f"the training process ended unexpectedly (exit code "
                        f"{self._process.exitcode}); it may have run out of memory"
                    ) from None
                if stop_since is not None and time.monotonic() - stop_since > grace_s:
                    self.kill()
                    raise TrainingError("training did not stop in time and was ended") from None
                continue
            yield event
            if event["kind"] in ("result", "error"):
                self._process.join(timeout=30)
                return

    def kill(self) -> None:
        """End the child at once (a process, unlike a thread, can be killed safely)."""
        if self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=10)

    def cleanup(self) -> None:
        """Remove the temporary folder (after the model was loaded or copied)."""
        shutil.rmtree(self.workdir, ignore_errors=True)
