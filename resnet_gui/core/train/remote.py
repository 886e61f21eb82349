"""Training in a child process, with :func:`~resnet_gui.core.train.training.train`'s own signature.

TensorFlow holds the GIL inside some C++ calls (graph tracing, dataset iterator creation) for
hundreds of milliseconds; in a thread of the GUI process that froze the window (a 388 ms stall
measured with a QThread ``fit``). In a child process it cannot. :func:`train_in_subprocess` starts
a ``spawn``ed child that runs the same ``train()`` and sends plain dicts through a queue
(``{"kind": "batch" | "epoch" | "log" | "result" | "error", ...}``); the parent turns them back
into the callbacks' calls and returns the same :class:`~resnet_gui.core.train.result.TrainResult`.
Stop is a ``multiprocessing.Event`` (before the child's first batch, the child is ended at once:
:meth:`TrainingProcess.events`). The trained model travels as a ``.keras`` file in a
temporary folder, removed when the result is garbage-collected.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import shutil
import tempfile
import time
import traceback
import weakref
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

from resnet_gui.core.base.config import OnBatch, OnEpoch, OnLog, ShouldStop, TrainConfig
from resnet_gui.core.base.errors import (
    STOPPED_BEFORE_TRAINING,
    RemoteTrainingError,
    Stopped,
    TrainingError,
)
from resnet_gui.core.data.dataset import DatasetReport
from resnet_gui.core.model.weights import remember_offline

#: Batch events are sent at most this often (the rest are summarised by the next one).
BATCH_INTERVAL_S = 0.1


def _child_main(
    config: TrainConfig, report: DatasetReport | None, events: Any, stop: Any, model_path: str
) -> None:
    """Entry point of the training process."""
    from resnet_gui.core.base.errors import ResnetGuiError, Stopped, describe_exception
    from resnet_gui.core.data.images import configure_pillow
    from resnet_gui.core.train.training import train

    configure_pillow()

    if hasattr(os, "nice"):
        # Training takes every core it can; the window must still get one when it needs it.
        try:
            os.nice(5)
        except OSError:
            pass
    last = [0.0]

    def on_batch(stats: Any) -> None:
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
        # A hand-over copy for the parent: the checkpoint stays until the user saves.
        result.save(model_path, discard_checkpoint=False)
        plain = {f.name: getattr(result, f.name) for f in fields(result) if f.name != "model"}
        events.put({"kind": "result", **plain, "model_file": model_path})
    except Stopped as exc:  # a stop before the first epoch: not a failure
        events.put({"kind": "stopped", "message": str(exc)})
    except ResnetGuiError as exc:  # a cause the user can act on: the message says it all
        events.put({"kind": "error", "message": str(exc), "traceback": ""})
    except Exception as exc:  # noqa: BLE001 - reported to the parent, with the details
        events.put({
            "kind": "error", "message": describe_exception(exc),
            "traceback": traceback.format_exc(),
        })


class TrainingProcess:
    """A training run in a child process. Iterate :meth:`events`; call :meth:`stop` any time."""

    def __init__(self, config: TrainConfig, report: DatasetReport | None = None) -> None:
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
        self, should_stop: ShouldStop | None = None, grace_s: float = 60.0,
        should_abort: ShouldStop | None = None,
    ) -> Iterator[dict]:
        """Messages from the child until its result, error or stop (the last message).

        ``should_stop`` is polled; once True, the child is asked to stop, and killed if it has
        not finished ``grace_s`` seconds later. Before the child's first batch there is nothing
        to keep, so a stop then ends it at once: not after TensorFlow's import (seconds) or the
        first step's tracing (ten seconds and more), which do not look at the stop flag. Once
        ``should_abort`` is True (the app is quitting), the child is killed at once.

        Raises:
            Stopped: aborted, or stopped before the first batch.
            TrainingError: the child died without a result, or did not stop in time.
        """
        stop_since: float | None = None
        trained = False  # a batch was done: from then on a stop keeps what was learnt
        while True:
            if should_abort is not None and should_abort():
                self.kill()
                raise Stopped("training was ended at once")
            if should_stop is not None and should_stop() and stop_since is None:
                if not trained and self._events.empty():  # (else: its last words may wait)
                    self.kill()
                    raise Stopped(STOPPED_BEFORE_TRAINING)
                self.stop()
                stop_since = time.monotonic()
            try:
                event = self._events.get(timeout=0.05)
            except queue.Empty:
                if not self._process.is_alive():
                    # The child may have sent its last words just before it ended: read what
                    # is left before calling it a death.
                    try:
                        event = self._events.get(timeout=1.0)
                    except queue.Empty:
                        raise TrainingError(
                            f"the training process ended unexpectedly (exit code "
                            f"{self._process.exitcode}); it may have run out of memory"
                        ) from None
                elif stop_since is not None and time.monotonic() - stop_since > grace_s:
                    self.kill()
                    raise TrainingError("training did not stop in time and was ended") from None
                else:
                    continue
            trained = trained or event["kind"] in ("batch", "epoch")
            yield event
            if event["kind"] in ("result", "error", "stopped"):
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


def train_in_subprocess(
    config: TrainConfig,
    *,
    on_batch: OnBatch | None = None,
    on_epoch: OnEpoch | None = None,
    on_log: OnLog | None = None,
    should_stop: ShouldStop | None = None,
    report: DatasetReport | None = None,
    should_abort: ShouldStop | None = None,
) -> Any:
    """Train like :func:`~resnet_gui.core.train.training.train`, in a child process.

    The callbacks are called in this process, in the order the child made them; ``should_stop``
    is polled here. The model comes back loaded (``result.model``) and as a file
    (``result.model_file``, which ``result.save`` copies), removed once the result is gone.

    Returns:
        A :class:`~resnet_gui.core.train.result.TrainResult`.

    Raises:
        RemoteTrainingError: the child failed; the message is the user's, and
            ``child_traceback`` the child's traceback (empty for errors the message explains).
        Stopped: stopped before training began (nothing to keep), or aborted
            (``should_abort``).
        TrainingError: the child died or would not stop.
    """
    from resnet_gui.core.model.files import open_model_file
    from resnet_gui.core.train.result import TrainResult

    handlers = {"batch": on_batch, "epoch": on_epoch, "log": on_log}
    process = TrainingProcess(config, report)
    try:
        for message in process.events(should_stop, should_abort=should_abort):
            kind = message["kind"]
            event = {k: v for k, v in message.items() if k != "kind"}
            if kind == "stopped":
                raise Stopped(event["message"])
            if kind == "error":
                raise RemoteTrainingError(event["message"], event.get("traceback", ""))
            if kind == "result":
                known = {f.name for f in fields(TrainResult)}
                result = TrainResult(
                    model=open_model_file(event["model_file"])[0],
                    **{k: v for k, v in event.items() if k in known and k != "model"},
                )
                weakref.finalize(result, process.cleanup)
                return result
            if kind == "log" and "offline" in event:  # the child found no network: so do we
                remember_offline(event["offline"])
            handler = handlers.get(kind)
            if handler is not None:
                handler(event)  # type: ignore[arg-type]
    except BaseException:
        process.kill()
        process.cleanup()
        raise
    process.cleanup()
    raise TrainingError("training ended without a result")
