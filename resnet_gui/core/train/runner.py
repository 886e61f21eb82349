"""The training loop proper: builds the model for a plan, runs Keras ``fit`` phase by phase,
reports progress through plain callables, stops within a batch, and keeps the best weights."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import numpy as np

from resnet_gui.core.base.config import OnBatch, OnEpoch, OnLog, ShouldStop, TrainPlan
from resnet_gui.core.base.errors import Stopped
from resnet_gui.core.model.archs import get_arch
from resnet_gui.core.model.build import (
    build_backbone,
    build_classifier,
    keras_module,
    set_trainable_blocks,
)
from resnet_gui.core.train.checkpoint import BEST, OPTIMIZER, WEIGHTS, Checkpoint
from resnet_gui.core.train.optimizer import make_optimizer
from resnet_gui.core.train.schedule import Schedule


def build_for_plan(
    plan: TrainPlan, class_names: list[str], backbone: Any = None
) -> tuple[Any, Any]:
    """The full classifier for a plan, and its backbone (built unless given)."""
    spec = get_arch(plan.arch)
    if backbone is None:
        backbone = build_backbone(
            plan.arch,
            weights=plan.weights,
            width=plan.width,
            stem_stride=plan.stem_stride,
            bn_momentum=plan.bn_momentum,
        )
    if plan.freeze_base:
        backbone.trainable = False
    preprocess = spec.preprocess
    model = build_classifier(
        backbone,
        class_names=class_names,
        image_size=plan.image_size,
        preprocess=preprocess,
        frozen_inference_bn=plan.pretrained,
        dropout=plan.dropout,
        info={"architecture": plan.arch, "image_size": plan.image_size},
    )
    return model, backbone


class Runner:
    """Runs the phases (head, then optional fine-tuning) and keeps history and best weights.

    With a ``checkpoint``, each epoch's end writes one (``core.train.checkpoint``) holding
    ``checkpoint_state`` plus the position in the run; ``resume`` (a checkpoint's state) makes
    :meth:`fit` continue after its last completed epoch, weights, optimizer and schedule
    position restored.
    """

    def __init__(
        self, model: Any, backbone: Any, plan: TrainPlan, steps: int, has_val: bool, *,
        on_batch: OnBatch, on_epoch: OnEpoch, log: OnLog, stop: ShouldStop,
        checkpoint: Checkpoint | None = None, checkpoint_state: dict | None = None,
        resume: dict | None = None, strategy: Any = None,
        class_weights: list[float] | None = None,
    ) -> None:
        self.keras = keras_module()
        self.strategy = strategy  # a tf.distribute strategy: the optimizer is made in its scope
        self.model, self.backbone, self.plan = model, backbone, plan
        self.steps, self.has_val = steps, has_val
        #: Each class's loss weight (``class_weights``), or None: every image weighs 1.
        self.class_weights = class_weights
        self.on_batch, self.on_epoch, self.log, self.stop = on_batch, on_epoch, log, stop
        self.history: list[dict] = []
        self.best: dict | None = None
        self.best_weights: list | None = None
        self.stopped = False
        self.t0 = time.perf_counter()
        self.batches_done = 0
        self.batches_skipped = 0  # done before a resume: not part of this session's rate
        self.schedule = Schedule(plan.learning_rate, steps, plan.epochs)
        self.last_phase = 0
        self.begin_phase(plan.epochs, 0, 0)
        self.checkpoint, self.checkpoint_state, self.resume = (
            checkpoint, checkpoint_state or {}, resume
        )

    def _compile(self, lr: float, epochs: int, patience: int = 0) -> None:
        """Compile for one phase; its learning rate follows ``self.schedule`` step by step."""
        keras = self.keras
        total = max(1, epochs * self.steps)
        warmup = min(self.steps, total // 10) if not self.plan.pretrained else 0
        self.schedule = Schedule(peak=lr, steps_per_epoch=self.steps, epochs=epochs,
                                 warmup_steps=warmup, patience=patience if self.has_val else 0)
        with self.strategy.scope() if self.strategy is not None else contextlib.nullcontext():
            optimizer = make_optimizer(self.schedule.learning_rate(0), self.plan.weight_decay)
            self.model.compile(
                optimizer=optimizer,
                loss=keras.losses.CategoricalCrossentropy(
                    label_smoothing=self.plan.label_smoothing
                ),
                metrics=["accuracy"],
            )
            # Its variables made now, not while the first step is traced: tracing a step that
            # creates variables took 5 s longer (Keras fit, ResNet-18, 2 cores), and the
            # custom loop's step (distributed.py) was traced twice, 11 s more. The compiled
            # one: under mixed precision it wraps ``optimizer`` (a LossScaleOptimizer).
            self.model.optimizer.build(self.model.trainable_variables)

    def fit(self, train_ds: Any, val_ds: Any) -> None:
        """Train the head (or the whole network), then fine-tune if asked."""
        p = self.plan
        phases = [(p.head_epochs, p.learning_rate, 0)]
        if p.fine_tune_blocks > 0 and p.epochs > p.head_epochs:
            phases.append((p.epochs - p.head_epochs, p.fine_tune_learning_rate, p.fine_tune_blocks))
        self.last_phase = len(phases) - 1
        start_phase, start_epoch = self._restore_run()
        offset = 0
        for index, (epochs, lr, blocks) in enumerate(phases):
            if index < start_phase:
                offset += epochs
                continue
            if blocks:
                n = set_trainable_blocks(self.backbone, blocks)
                self.log({"message": f"fine-tuning the top {blocks} blocks ({n} layers)"})
            # Early stopping applies to the last phase (a fine-tuning phase follows the head's).
            self._compile(lr, epochs, p.patience if index == self.last_phase else 0)
            initial = 0
            if index == start_phase and self.resume is not None:
                initial = self._restore_position(start_epoch)
                self.schedule.restore(self.resume.get("schedule"))
            if not (initial and self.schedule.finished(initial)):  # an early stop is final
                self._fit_phase(train_ds, val_ds, epochs, offset, index, initial)
            offset += epochs
            if self.stopped:
                break
        if self.schedule.stopping_reason and not self.stopped:
            self.log({"message": f"stopped early at epoch {len(self.history)} of up to "
                                 f"{p.epochs}: {self.schedule.stopping_reason}"})
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)

    def _restore_run(self) -> tuple[int, int]:
        """History, best epoch and weights of a resumed run; returns (phase, epochs done in it)."""
        state = self.resume
        if state is None:
            return 0, 0
        self.history = list(state["history"])
        best = state.get("best")
        self.best = {**best, "key": self._best_key(best)} if best else None
        if self.checkpoint is not None:
            self.best_weights = self.checkpoint.arrays(BEST)
        self.batches_skipped = len(self.history) * self.steps
        return int(state["phase"]), int(state["phase_epochs_done"])

    def _restore_position(self, epochs_done: int) -> int:
        """Weights and optimizer (its step counter too: the schedule goes on) of the checkpoint."""
        from resnet_gui.core.base.errors import TrainingError

        assert self.checkpoint is not None
        weights = self.checkpoint.arrays(WEIGHTS)
        slots = self.checkpoint.arrays(OPTIMIZER)
        try:
            self.model.set_weights(weights)
            if epochs_done and slots:
                optimizer = self.model.optimizer  # built by _compile
                if len(optimizer.variables) != len(slots):
                    raise ValueError("optimizer state of another shape")
                for variable, value in zip(optimizer.variables, slots, strict=True):
                    variable.assign(value)
        except (ValueError, TypeError) as exc:
            raise TrainingError(f"the checkpoint does not fit this model: {exc}") from exc
        return epochs_done

    def _save_checkpoint(self, phase: int, phase_epochs_done: int) -> None:
        if self.checkpoint is None:
            return
        best = {**self.best, "key": list(self.best["key"])} if self.best else None
        state = {**self.checkpoint_state, "phase": phase, "phase_epochs_done": phase_epochs_done,
                 "epochs_done": len(self.history), "epochs": self.total_epochs(),
                 "history": self.history, "best": best, "schedule": self.schedule.state()}
        try:
            self.checkpoint.save(state, self.model, self.best_weights)
        except OSError as exc:  # a full disk must not end the run: say so, go on
            self.log({"message": f"warning: cannot write the checkpoint ({exc.strerror or exc})"})

    # --- one phase's progress, shared by Keras fit (below) and the custom loop
    # (core.train.distributed): the schedule, the events, the best weights, checkpoints, stopping.

    def begin_phase(self, epochs: int, offset: int, phase: int) -> None:
        """Set up the progress bookkeeping of a phase of ``epochs`` after ``offset`` epochs."""
        self._phase, self._offset = phase, offset
        self._later = self.plan.epochs - offset - epochs  # epochs of phases after this one

    def total_epochs(self) -> int:
        """The run's length as things stand (it shrinks when the run will stop early)."""
        return self._offset + self.schedule.end_epoch + self._later

    def learning_rate(self, epoch: int, batch: int) -> float:
        """The learning rate for ``batch`` (0-based) of the phase's ``epoch`` (0-based)."""
        return self.schedule.learning_rate(epoch * self.steps + batch)

    def batch_done(self, epoch: int, batch: int, loss: float, accuracy: float) -> None:
        """Report a finished batch (both 0-based, in the phase); raises Stopped when the
        user asked to stop."""
        self.batches_done += 1
        elapsed = time.perf_counter() - self.t0
        rate = elapsed / self.batches_done
        left = self.total_epochs() * self.steps - self.batches_done - self.batches_skipped
        self.on_batch({
            "epoch": self._offset + epoch + 1, "epochs": self.total_epochs(),
            "batch": batch + 1, "batches": self.steps, "loss": loss, "accuracy": accuracy,
            "elapsed": elapsed, "eta": max(0.0, left * rate),
        })
        if self.stop():
            self.stopped = True
            raise Stopped("stopped")

    def epoch_done(self, epoch: int, logs: dict, learning_rate: float, seconds: float) -> bool:
        """Record the phase's ``epoch`` (0-based) with Keras-style ``logs`` (loss, accuracy,
        val_loss, val_accuracy); returns True when it is the run's last epoch."""
        val_loss = float(logs["val_loss"]) if logs.get("val_loss") is not None else None
        message = self.schedule.observe(epoch + 1, val_loss)
        if message:
            self.log({"message": message})
        val_acc = logs.get("val_accuracy")
        stats = {
            "epoch": self._offset + epoch + 1,
            "epochs": self.total_epochs(),
            "loss": float(logs.get("loss", float("nan"))),
            "accuracy": float(logs.get("accuracy", float("nan"))),
            "val_loss": val_loss,
            "val_accuracy": float(val_acc) if val_acc is not None else None,
            "learning_rate": float(learning_rate),
            "seconds": seconds,
        }
        stats["best"] = self._update_best(stats)
        self.history.append(stats)
        self._save_checkpoint(self._phase, epoch + 1)
        self.on_epoch(stats)
        return self.schedule.finished(epoch + 1)

    def _fit_phase(
        self, train_ds: Any, val_ds: Any, epochs: int, offset: int, phase: int = 0,
        initial_epoch: int = 0,
    ) -> None:
        runner = self
        keras = self.keras
        self.begin_phase(epochs, offset, phase)

        class Progress(keras.callbacks.Callback):
            current_epoch = 0
            t_epoch = 0.0

            def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
                self.current_epoch = epoch
                self.t_epoch = time.perf_counter()

            def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
                rate = runner.learning_rate(self.current_epoch, batch)
                self.model.optimizer.learning_rate.assign(rate)

            def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
                logs = logs or {}
                runner.batch_done(self.current_epoch, batch,
                                  float(logs.get("loss", float("nan"))),
                                  float(logs.get("accuracy", float("nan"))))

            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                lr = keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
                if runner.epoch_done(epoch, dict(logs or {}), float(lr),
                                     time.perf_counter() - self.t_epoch):
                    self.model.stop_training = True

        try:
            self.model.fit(
                train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=initial_epoch,
                verbose=0, shuffle=False, callbacks=[Progress()],
                class_weight=(None if self.class_weights is None
                              else dict(enumerate(self.class_weights))),
            )
        except Stopped:
            self.stopped = True
        except Exception as exc:
            error = self.translate_error(exc)
            if error is exc:
                raise
            raise error from exc

    def translate_error(self, exc: Exception) -> Exception:
        """A training failure as the user should read it (out of memory: what to do)."""
        if "ResourceExhausted" in type(exc).__name__ or "OOM when allocating" in str(exc):
            from resnet_gui.core.base.errors import TrainingError
            from resnet_gui.core.model.memory import out_of_memory_message

            return TrainingError(out_of_memory_message(self.plan.batch_size))
        return exc

    def _best_key(self, stats: dict) -> tuple[float, float]:
        """Larger is better: (-validation loss, validation accuracy), or without a validation
        split (training accuracy, -training loss); a loss that is not a number counts worst."""
        def finite(x: float | None) -> float:
            return float(x) if x is not None and np.isfinite(x) else -np.inf

        if self.has_val:
            return (finite(-stats["val_loss"] if stats["val_loss"] is not None else None),
                    finite(stats["val_accuracy"]))
        return (finite(stats["accuracy"]), finite(-stats["loss"]))

    def _update_best(self, stats: dict) -> bool:
        """Remember the weights of the best epoch so far; True when this one is the best.

        With a validation split the best epoch has the lowest validation loss (then the highest
        accuracy): on a split of a few dozen images, accuracy moves in steps of one image and
        ties, while the loss is the same smooth signal early stopping watches."""
        key = self._best_key(stats)
        if self.best is None or key > self.best["key"]:
            self.best = {**stats, "key": key}
            self.best_weights = [np.array(w) for w in self.model.get_weights()]
            return True
        return False
