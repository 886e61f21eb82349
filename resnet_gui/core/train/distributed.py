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
        """The largest replica's share of the global batch (an uneven batch is split as evenly
        as it goes: 30 on 4 replicas is 7 or 8 each)."""
        return -(-global_batch // self.replicas)

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

    def check_same_images(self, hashes: list[str]) -> None:
        """Check that every worker holds the same training images (their content hashes, in
        order): each slices the same global batches. Every worker takes part and all stop
        alike; nothing to do for one worker.

        Raises:
            TrainingError: a worker's images differ from the chief's (another copy of the data).
        """
        if self.workers == 1:
            return
        import hashlib

        digest = hashlib.sha1("".join(hashes).encode()).hexdigest()
        chief = self.broadcast_json(digest)
        (differ,) = self.all_reduce_sum([np.array([float(digest != chief)])])
        if differ[0] > 0:
            raise TrainingError(
                f"the workers do not hold the same training images ({int(differ[0])} of "
                f"{self.workers} differ from the chief's {len(hashes)}): give every worker the "
                "same copy of the data folder"
            )

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
        # No timeout on the collective operations: TensorFlow gives each one with a timeout a
        # thread of its own that sleeps for the whole timeout, so with ~100 exchanges a second
        # a worker held thousands of threads until it could make no more ("Resource
        # temporarily unavailable"). A lost worker is noticed by the coordination service's
        # heartbeats (docs/scaling.md).
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
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
    early stopping). Every worker is given the whole training set in global batches (it keeps
    its replicas' slices of each, :func:`replica_slices`) and its shard of the validation set.
    """

    def __init__(self, *args: Any, cluster: Cluster, **kwargs: Any) -> None:
        super().__init__(*args, strategy=cluster.strategy, **kwargs)
        self.cluster = cluster
        # A stop asked on any worker stops every worker after the same batch: each step adds
        # up the workers' stop flags, and batch_done reads the sum.
        self.user_stop, self.stop_everywhere = self.stop, False
        self.stop = lambda: self.stop_everywhere

    def fit(self, train_ds: Any, val_ds: Any) -> None:
        """The Runner's phases, with BatchNorm statistics over the whole global batch."""
        layers: list[Any] = []
        try:
            if self.cluster.replicas > 1:
                synchronise_batchnorm(self.model, layers)
            super().fit(train_ds, val_ds)
        finally:
            for layer in layers:
                object.__delattr__(layer, "_moments")

    def _restore_position(self, epochs_done: int) -> int:
        """The chief reads its checkpoint; every worker then takes the chief's values."""
        if self.checkpoint is not None:
            super()._restore_position(epochs_done)
        # Every worker's optimizer has its slots (built by _compile): the chief's values fill them.
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
            # Keras fit on a dataset of known size makes the next epoch's iterator at an
            # epoch's end, then a fresh one when the epoch begins: one shuffle drawn and unused
            # per epoch. The loop draws (and drops) it too, to stay on fit's order of images.
            # (Files decoded on the fly are filtered: fit does not know their number then.)
            unused_shuffle = int(train_ds.cardinality()) >= 0
            for epoch in range(initial_epoch, epochs):
                started = time.perf_counter()
                # Every worker draws the same global batches and keeps its replicas' slices:
                # exactly this epoch's steps, so that no prefetch starts the next pass (and
                # draws its shuffle) early.
                one_pass = train_ds.repeat().take(self.steps)
                iterator = iter(self.strategy.distribute_datasets_from_function(
                    lambda ctx, one_pass=one_pass: replica_slices(one_pass, ctx),
                    tf.distribute.InputOptions(experimental_fetch_to_device=False)))
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
                if unused_shuffle:
                    iter(train_ds)
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
        weights = (None if self.class_weights is None
                   else tf.constant(self.class_weights, tf.float32))

        def replica(x: Any, y: Any, n: Any, wanted: Any) -> Any:
            with tf.GradientTape() as tape:
                p = tf.cast(model(x, training=True), tf.float32)
                per_image = loss.call(y, p)  # the compiled loss, before its batch mean
                if weights is not None:  # as Keras fit's class_weight: by the true class
                    per_image *= tf.gather(weights, tf.argmax(y, axis=-1))
                # / the global batch: its true size, also for a last batch that is short
                value = tf.nn.compute_average_loss(per_image, global_batch_size=n)
                if model.losses:
                    value += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
            grads = tape.gradient(value, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return (tf.reduce_sum(per_image), _correct(tf, y, p),
                    tf.cast(tf.shape(per_image)[0], tf.float32), wanted)

        @tf.function
        def step(iterator: Any, wanted: Any) -> Any:
            x, y, n = next(iterator)
            out = strategy.run(replica, args=(x, y, n, wanted))
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


def synchronise_batchnorm(model: Any, changed: list[Any] | None = None) -> list[Any]:
    """Make every BatchNorm layer of ``model`` (nested models too) normalise a training batch
    with the statistics of the **global** batch, as one process does, instead of its replica's
    slice. Returns the layers changed (appended to ``changed`` as they change, so a caller can
    undo even after an error); delete their instance attribute ``_moments`` to undo.

    Each layer exchanges one packed tensor per step (sums, sums of squares and the count, in one
    all-reduce; its gradient is one more): Keras' own ``synchronized=True`` makes three. The
    sums are taken about the moving mean, which every replica holds alike, so that
    E[x^2] - E[x]^2 does not lose the variance to rounding when the mean is large.
    """
    tf = _tf()
    from resnet_gui.core.model.build import keras_module

    batchnorm = keras_module().layers.BatchNormalization
    changed = [] if changed is None else changed
    for layer in _all_layers(model):
        if not isinstance(layer, batchnorm) or layer.axis not in (-1, len(layer.input.shape) - 1):
            continue

        def moments(inputs: Any, mask: Any, layer: Any = layer) -> Any:
            axes = layer._reduction_axes
            shift = tf.stop_gradient(tf.cast(layer.moving_mean, inputs.dtype))
            centred = inputs - shift
            count = tf.cast(tf.reduce_prod(tf.gather(tf.shape(inputs), axes)), inputs.dtype)
            packed = tf.concat([tf.reduce_sum(centred, axes),
                                tf.reduce_sum(tf.square(centred), axes), count[None]], 0)
            total = tf.distribute.get_replica_context().all_reduce(
                tf.distribute.ReduceOp.SUM, packed)
            channels = inputs.shape[-1]
            mean = total[:channels] / total[-1]
            variance = tf.maximum(total[channels:2 * channels] / total[-1] - tf.square(mean),
                                  0.0)
            return mean + shift, variance

        object.__setattr__(layer, "_moments", moments)
        changed.append(layer)
    return changed


def _all_layers(model: Any) -> list:
    """Every layer of ``model``, inside nested models too."""
    out = []
    for layer in model.layers:
        out.append(layer)
        if hasattr(layer, "layers"):
            out.extend(_all_layers(layer))
    return out


def replica_slices(train_ds: Any, ctx: Any) -> Any:
    """This worker's part of every global batch of ``train_ds``, one element per local replica.

    Every worker builds the same dataset (same images, shuffle seed and augmentation stream),
    so its global batches are the ones a one-process run trains on. Replica ``r`` of ``R`` keeps
    rows ``[r*n//R, (r+1)*n//R)`` of a batch of ``n``, and gets ``n`` with them: the loss is
    divided by the global count. A replica may get no image of a last batch
    smaller than ``R``: its sums are zero, and BatchNorm uses the global batch's statistics
    (:func:`synchronise_batchnorm`). ``ctx`` is the ``tf.distribute.InputContext``.
    """
    tf = _tf()
    replicas = ctx.num_replicas_in_sync
    local = replicas // ctx.num_input_pipelines
    first = ctx.input_pipeline_id * local

    def slices(x: Any, y: Any) -> Any:
        n = tf.shape(x)[0]

        def take(j: Any) -> Any:
            r = tf.cast(j, tf.int32) + first
            begin, end = r * n // replicas, (r + 1) * n // replicas
            return x[begin:end], y[begin:end], n

        return tf.data.Dataset.range(local).map(take)

    return train_ds.flat_map(slices)


def _correct(tf: Any, y: Any, p: Any) -> Any:
    """How many predictions hit the one-hot labels: the "accuracy" metric ``Runner._compile``
    asks for (Keras' categorical accuracy), summed instead of averaged."""
    from resnet_gui.core.model.build import keras_module

    return tf.reduce_sum(keras_module().metrics.categorical_accuracy(y, p))
