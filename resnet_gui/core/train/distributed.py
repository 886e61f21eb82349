"""Training on several devices or machines with TensorFlow's own ``tf.distribute``.

- ``one``: the default strategy (one device): what the app always does.
- ``mirrored``: ``MirroredStrategy`` over every visible GPU (or every logical CPU device when
  there is no GPU); Keras ``fit`` runs it, as Keras documents and tests.
- ``multiworker``: ``MultiWorkerMirroredStrategy`` configured from the standard ``TF_CONFIG``.
  Keras 3.15's ``fit`` fails under it on TensorFlow 2.21 ("Attempt to convert a value
  (PerReplica...)"), so :class:`DistributedRunner` trains it with a custom loop
  (``strategy.run``). The loop is the single-process :class:`~resnet_gui.core.train.runner.Runner`
  with only the phase's inner loop replaced: the same model, compiled loss and optimizer, the
  same schedule, metrics definitions, progress events, best-weights choice and checkpoints.
- ``auto``: ``mirrored`` when more than one GPU is visible, else ``one``.

``--batch-size`` is the **global** batch: each of the N replicas computes 1/N of it and the
gradients are summed, so a run on N replicas takes the same optimiser steps as one device with
that batch (docs/scaling.md).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from resnet_gui.core.base.config import STRATEGIES
from resnet_gui.core.base.errors import Stopped, TrainingError
from resnet_gui.core.train.runner import Runner

#: Seconds a collective operation may wait for another worker before the run is given up.
COLLECTIVE_TIMEOUT_S = 120


@dataclass
class Cluster:
    """What the chosen strategy means for this process."""

    strategy: Any
    name: str  # "one", "mirrored" or "multiworker"
    replicas: int = 1
    workers: int = 1
    worker_index: int = 0
    is_chief: bool = True
    _reduce: Any = field(default=None, repr=False)

    def scope(self) -> Any:
        """The strategy's variable scope (build and compile models in it)."""
        return self.strategy.scope()

    @property
    def custom_loop(self) -> bool:
        """True when ``fit`` cannot run this strategy (multi-worker)."""
        return self.name == "multiworker"

    def per_replica_batch(self, global_batch: int) -> int:
        """Each replica's share of the global batch.

        Raises:
            TrainingError: for the multi-worker loop, the batch does not divide among the
                replicas (``fit`` under MirroredStrategy splits an uneven batch itself).
        """
        if global_batch % self.replicas and not self.custom_loop:
            return -(-global_batch // self.replicas)  # the largest share
        if global_batch % self.replicas:
            raise TrainingError(
                f"--batch-size {global_batch} does not divide among {self.replicas} replicas: "
                f"use a multiple of {self.replicas} (the batch size is the global batch)"
            )
        return global_batch // self.replicas

    def describe(self, global_batch: int) -> str:
        """The log line saying where training runs and how the batch is split."""
        where = {"one": "one device", "mirrored": f"{self.replicas} replicas on this machine",
                 "multiworker": f"{self.workers} workers, {self.replicas} replicas in all"}
        role = (f"; this is worker {self.worker_index}"
                + (" (the chief: it writes the model and checkpoints)" if self.is_chief else
                   " (the chief writes the model and checkpoints)")) if self.workers > 1 else ""
        return (f"strategy {self.name}: {where[self.name]}; global batch {global_batch}, "
                f"{self.per_replica_batch(global_batch)} per replica{role}")

    # --- exchanges between workers (all workers must call these at the same point)

    def all_reduce_sum(self, values: list[np.ndarray]) -> list[np.ndarray]:
        """Each array summed over the workers (as float64 numpy, on every worker)."""
        tf = _tf()
        if self._reduce is None:  # one function, traced once per list of shapes
            strategy = self.strategy

            @tf.function(reduce_retracing=True)
            def reduce(tensors: list) -> Any:
                per_replica = strategy.run(lambda ts: [tf.identity(t) for t in ts],
                                           args=(tensors,))
                return [strategy.reduce(tf.distribute.ReduceOp.SUM, t, axis=None)
                        for t in per_replica]

            self._reduce = reduce
        totals = self._reduce([tf.constant(np.asarray(v, np.float64)) for v in values])
        scale = self.replicas // self.workers  # local replicas each added the same value
        return [np.asarray(t) / scale for t in totals]

    def broadcast_json(self, obj: Any) -> Any:
        """The chief's ``obj`` (plain JSON data) on every worker."""
        if self.workers == 1:
            return obj
        data = json.dumps(obj).encode() if self.is_chief else b""
        (size,) = self.all_reduce_sum([np.array([len(data)])])
        buf = np.zeros(int(size[0]), np.float64)
        buf[:len(data)] = np.frombuffer(data, np.uint8)
        (total,) = self.all_reduce_sum([buf])
        return json.loads(bytes(np.rint(total).astype(np.uint8)))

    def broadcast_variables(self, variables: list) -> None:
        """Give every worker the chief's values of ``variables``."""
        if self.workers == 1 or not variables:
            return
        values = [np.asarray(v.numpy()) if self.is_chief else np.zeros(v.shape, v.dtype)
                  for v in variables]
        for v, value in zip(variables, self.all_reduce_sum(values), strict=True):
            v.assign(value.astype(v.dtype))


def _tf() -> Any:
    from resnet_gui.core.base.tfsetup import import_tensorflow

    return import_tensorflow()


def read_tf_config(environ: dict | None = None) -> dict:
    """The cluster description in ``TF_CONFIG``, checked.

    Raises:
        TrainingError: missing, not JSON, or without this task's place in the cluster.
    """
    raw = (environ if environ is not None else os.environ).get("TF_CONFIG")
    example = ('TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
               '"task": {"type": "worker", "index": 0}}\'')
    if not raw:
        raise TrainingError(f"--strategy multiworker needs TF_CONFIG set on every worker, e.g. "
                            f"{example} (docs/scaling.md)")
    try:
        config = json.loads(raw)
        cluster, task = config["cluster"], config["task"]
        members = cluster[task["type"]]
        index = int(task["index"])
        if not 0 <= index < len(members):
            raise ValueError(f"task index {index} outside the {len(members)} {task['type']}s")
    except (ValueError, KeyError, TypeError) as exc:
        raise TrainingError(f"TF_CONFIG is not a valid cluster description ({exc}); expected "
                            f"e.g. {example}") from None
    return config


def make_cluster(name: str, continuing: bool = False) -> Cluster:
    """Create the strategy ``name`` (one of ``config.STRATEGIES``). For ``multiworker`` this
    must come before any other TensorFlow work in the process. ``auto`` stays on one device
    when ``continuing`` from a model (``--init`` runs on one device).

    Raises:
        TrainingError: an unknown name, or a bad ``TF_CONFIG``.
    """
    if name not in STRATEGIES:
        raise TrainingError(f"unknown strategy {name!r}; choose from {', '.join(STRATEGIES)}")
    if name == "multiworker":
        config = read_tf_config()
        tf = _tf()
        options = tf.distribute.experimental.CommunicationOptions(
            timeout_seconds=COLLECTIVE_TIMEOUT_S)
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
        spec = config["cluster"]
        workers = sum(len(spec.get(kind, [])) for kind in ("chief", "worker"))
        task_type, index = config["task"]["type"], int(config["task"]["index"])
        chief = task_type == "chief" or ("chief" not in spec and task_type == "worker"
                                         and index == 0)
        position = index + (len(spec.get("chief", [])) if task_type == "worker" else 0)
        return Cluster(strategy, name, strategy.num_replicas_in_sync, workers, position, chief)
    tf = _tf()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        name = "mirrored" if len(gpus) > 1 and not continuing else "one"
    if name == "one":
        return Cluster(tf.distribute.get_strategy(), "one")
    devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
    strategy = tf.distribute.MirroredStrategy(devices=devices)
    return Cluster(strategy, "mirrored", strategy.num_replicas_in_sync)


def lost_worker_message(cluster: Cluster, exc: Exception) -> str:
    """What a worker says when another one stopped or cannot be reached."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return (f"worker {cluster.worker_index}: lost contact with another worker ({first[:200]}); "
            "training stopped. Start every worker again with the same command plus --resume "
            "to go on from the chief's last checkpoint")


class DistributedRunner(Runner):
    """:class:`Runner` whose phases run a custom loop with ``strategy.run`` (multi-worker).

    Everything but the inner loop is the Runner's: ``_compile`` (model, loss, optimizer,
    metrics), the schedule, ``batch_done``/``epoch_done`` (events, best weights, checkpoints,
    early stopping). The datasets given are this worker's shard, batched per replica.
    """

    def __init__(self, *args: Any, cluster: Cluster, **kwargs: Any) -> None:
        super().__init__(*args, strategy=cluster.strategy, **kwargs)
        self.cluster = cluster
        # A stop asked on any worker stops every worker after the same batch: each step adds
        # up the workers' stop flags, and batch_done reads the sum.
        self.user_stop, self.stop_everywhere = self.stop, False
        self.stop = lambda: self.stop_everywhere

    def _restore_position(self, epochs_done: int) -> int:
        """The chief reads its checkpoint; every worker then takes the chief's values."""
        if self.checkpoint is not None:
            super()._restore_position(epochs_done)
        with self.cluster.scope():  # the other workers' optimizer slots, to be filled
            self.model.optimizer.build(self.model.trainable_variables)
        self.cluster.broadcast_variables(list(self.model.weights)
                                         + list(self.model.optimizer.variables))
        return epochs_done

    def _fit_phase(
        self, train_ds: Any, val_ds: Any, epochs: int, offset: int, phase: int = 0,
        initial_epoch: int = 0,
    ) -> None:
        tf = _tf()
        self.begin_phase(epochs, offset, phase)
        try:
            step = self._train_step()
            sync = self._sync_statistics()
            for epoch in range(initial_epoch, epochs):
                started = time.perf_counter()
                # A new pass each epoch (as fit makes one: the same shuffled order); repeated,
                # so that every worker runs the same number of steps whatever its shard's size.
                iterator = iter(self.strategy.distribute_datasets_from_function(
                    lambda _ctx: train_ds.repeat()))
                totals = np.zeros(3)  # loss sum, correct, count: over every worker
                for batch in range(self.steps):
                    self.model.optimizer.learning_rate.assign(self.learning_rate(epoch, batch))
                    wanted = tf.constant(1.0 if self.user_stop() else 0.0)
                    *sums, stops = (float(t) for t in step(iterator, wanted))
                    totals += sums
                    self.stop_everywhere = stops > 0
                    self.batch_done(epoch, batch, totals[0] / totals[2], totals[1] / totals[2])
                sync()
                logs = {"loss": totals[0] / totals[2], "accuracy": totals[1] / totals[2]}
                if self.has_val:  # every worker takes part, with or without images
                    logs.update(self._evaluate(val_ds))
                rate = float(self.model.optimizer.learning_rate.numpy())
                if self.epoch_done(epoch, logs, rate, time.perf_counter() - started):
                    break
        except Stopped:
            self.stopped = True
        except tf.errors.OpError as exc:
            error = self.translate_error(exc)
            raise (error if error is not exc else
                   TrainingError(lost_worker_message(self.cluster, exc))) from exc

    def _train_step(self) -> Any:
        """One optimiser step on every replica: the compiled loss and optimizer, gradients
        summed over the replicas. Returns (loss sum, correct, images, stop flags) added up over
        all replicas."""
        tf = _tf()
        model, strategy = self.model, self.strategy
        loss, optimizer = model.loss, model.optimizer

        def replica(x: Any, y: Any, wanted: Any) -> Any:
            with tf.GradientTape() as tape:
                p = tf.cast(model(x, training=True), tf.float32)
                per_image = loss.call(y, p)  # the compiled loss, before its batch mean
                value = tf.nn.compute_average_loss(per_image)  # / the global batch
                if model.losses:
                    value += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
            grads = tape.gradient(value, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return (tf.reduce_sum(per_image), _correct(tf, y, p),
                    tf.cast(tf.shape(per_image)[0], tf.float32), wanted)

        @tf.function
        def step(iterator: Any, wanted: Any) -> Any:
            x, y = next(iterator)
            out = strategy.run(replica, args=(x, y, wanted))
            return [strategy.reduce(tf.distribute.ReduceOp.SUM, o, axis=None) for o in out]

        return step

    def _sync_statistics(self) -> Any:
        """Average the BatchNorm moving statistics over the workers (each updates its own from
        its own images)."""
        variables = [v for v in self.model.non_trainable_variables if "moving" in v.path]
        cluster = self.cluster
        if not variables or cluster.workers == 1:
            return lambda: None

        def sync() -> None:
            totals = cluster.all_reduce_sum([np.asarray(v.numpy()) for v in variables])
            for v, total in zip(variables, totals, strict=True):
                v.assign((total / cluster.workers).astype(v.dtype))

        return sync

    def _evaluate(self, val_ds: Any) -> dict:
        """Validation loss and accuracy over every worker's shard (each worker runs its own
        images, then one exchange adds the sums up)."""
        tf = _tf()
        sums = np.zeros(3)
        for x, y in val_ds if val_ds is not None else ():
            p = tf.cast(self.model(x, training=False), tf.float32)
            sums += [float(tf.reduce_sum(self.model.loss.call(y, p))),
                     float(_correct(tf, y, p)), float(tf.shape(p)[0])]
        (total,) = self.cluster.all_reduce_sum([sums])
        n = max(1.0, float(total[2]))
        return {"val_loss": float(total[0]) / n, "val_accuracy": float(total[1]) / n}


def _correct(tf: Any, y: Any, p: Any) -> Any:
    """How many predictions hit the one-hot labels: the "accuracy" metric ``Runner._compile``
    asks for (Keras' categorical accuracy), summed instead of averaged."""
    from resnet_gui.core.model.build import keras_module

    return tf.reduce_sum(keras_module().metrics.categorical_accuracy(y, p))
