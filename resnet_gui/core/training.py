"""Training: a plain function with progress callables, so the GUI, the CLI and tests share it.

``train(config, on_batch=..., on_epoch=..., on_log=..., should_stop=...)`` takes only plain
callables and passes only plain data (floats, ints, strings, dicts) to them; it never touches Qt.
See ``docs/recipe.md`` for why the defaults are what they are.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from resnet_gui.core.archs import get_arch
from resnet_gui.core.config import OnBatch, OnEpoch, OnLog, ShouldStop, TrainConfig, TrainPlan
from resnet_gui.core.dataset import DatasetReport, scan_dataset, stratified_split
from resnet_gui.core.errors import Stopped, TrainingError
from resnet_gui.core.recipe import make_plan
from resnet_gui.core.runner import Runner, build_for_plan


@dataclass
class TrainResult:
    """The outcome of :func:`train` (and of ``remote.train_in_subprocess``, the same fields)."""

    model: Any
    class_names: list[str]
    plan: TrainPlan
    history: list[dict]
    best_epoch: int | None
    val_accuracy: float | None
    stopped: bool
    seconds: float
    report: DatasetReport | None
    num_train: int
    num_val: int
    #: The validation images (paths), e.g. to evaluate the model on them afterwards.
    val_images: list[str] = field(default_factory=list)
    #: The temperature that calibrates the model's probabilities (1.0: not calibrated).
    temperature: float = 1.0
    #: A saved copy of ``model`` (a run in a child process hands its model over as a file).
    model_file: str | None = None
    #: The run's checkpoint, deleted once the model is saved.
    checkpoint: Any = None
    #: False on the workers of a multi-worker run that do not write the model (not the chief).
    chief: bool = True

    def save(self, path: str | os.PathLike[str], *, discard_checkpoint: bool = True) -> Path:
        """Save the model atomically as a ``.keras`` file; returns the final path.

        The run's checkpoint is deleted afterwards (the model is safe), unless
        ``discard_checkpoint`` is False (a hand-over copy, not the user's save).

        Raises:
            ModelFileError: the path does not end in ``.keras`` or cannot be written.
        """
        from resnet_gui.core.inference import atomic_save, save_model

        if self.model_file is not None:
            source = self.model_file
            saved = atomic_save(path, lambda tmp: shutil.copyfile(source, tmp))
        else:
            saved = save_model(self.model, path)
        if self.checkpoint is not None and discard_checkpoint:
            self.checkpoint.discard()  # the model is safe: the run needs no resuming
        return saved


STOPPED_BEFORE_TRAINING = "stopped before training began; nothing to keep"


def _noop(_: Any) -> None:
    return None


def train(
    config: TrainConfig,
    *,
    on_batch: OnBatch | None = None,
    on_epoch: OnEpoch | None = None,
    on_log: OnLog | None = None,
    should_stop: ShouldStop | None = None,
    report: DatasetReport | None = None,
) -> TrainResult:
    """Train a classifier on ``config.data_dir``.

    Args:
        config: the settings; automatic ones are resolved by ``recipe.make_plan``.
        on_batch: called after each training batch with a ``config.BatchEvent``.
        on_epoch: called after each epoch with a ``config.EpochEvent``.
        on_log: called with a ``config.LogEvent``: lines a user should read, phase names.
        should_stop: polled after every batch; True ends training cleanly within a batch,
            keeping the best weights so far.
        report: a scan of ``config.data_dir`` already made (skips scanning again).

    Returns:
        A :class:`TrainResult` whose model carries its class names and metadata.

    Raises:
        DatasetError, TrainingError, WeightsUnavailableError: with a message for the user.
    """
    started = time.perf_counter()
    on_batch = on_batch or _noop
    on_epoch = on_epoch or _noop
    log = on_log or _noop
    stop = should_stop or (lambda: False)

    def say(msg: str) -> None:
        log({"message": msg})

    from resnet_gui.core.checkpoint import describe_changes, fingerprint, open_for
    from resnet_gui.core.distributed import make_cluster

    # First: a multi-worker strategy must exist before any other TensorFlow work.
    cluster = make_cluster(config.strategy, continuing=bool(config.init))
    if config.init and cluster.name != "one":
        raise TrainingError("--init (continue from a model) runs on one device: use "
                            "--strategy one")
    checkpoint, resume = open_for(config, say) if cluster.is_chief else (None, None)
    if cluster.workers > 1:  # the chief's checkpoint decides for every worker
        resume = cluster.broadcast_json(resume)
    if resume is not None:  # the interrupted run's settings, whatever was given now
        config = TrainConfig.from_dict({**resume["config"], "resume": True,
                                        "run_out": config.run_out,
                                        "strategy": config.strategy,
                                        "data_dir": config.data_dir})

    init = None
    if config.init:
        from resnet_gui.core.continuation import check_config, load_init

        init = load_init(config.init)
        if resume is None:  # a resumed run's saved config was checked when it began
            config = check_config(config, init)
    if report is None:
        log({"phase": "scanning"})
        report = _scan(config.data_dir, stop)
    for bad in report.unusable:
        say(f"skipped {bad.path}: {bad.reason}" + (f" ({bad.detail})" if bad.detail else ""))
    for warning in report.warnings:
        say(f"warning: {warning}")

    if config.val_dir:
        val_report = _scan(config.val_dir, stop, classes=report.classes)
        for bad in val_report.unusable:
            say(f"skipped {bad.path}: {bad.reason}")
        train_recs, val_recs = list(report.images), list(val_report.images)
    else:
        groups = report.duplicate_groups()
        tr, va = stratified_split(report.labels, config.val_split, config.seed, groups)
        grouped = len(groups) - len(np.unique(groups))
        if grouped and config.val_split > 0:
            say(f"{grouped} near-duplicate photo(s) kept on the same side of the "
                "training/validation split as their look-alikes")
        train_recs = [report.images[i] for i in tr]
        val_recs = [report.images[i] for i in va]
    if len({r.label for r in train_recs}) < 2:
        raise TrainingError("the training split has fewer than two classes with images")
    data_print = fingerprint([r.path for r in train_recs + val_recs])
    if resume is not None and cluster.is_chief:  # other workers' paths may differ
        changes = describe_changes(resume["fingerprint"], data_print)
        if changes:
            raise TrainingError(
                f"the data changed since the interrupted run: {changes}; start a fresh run "
                "(without --resume), or put the files back"
            )
    if resume is not None:
        say(f"resuming from epoch {resume['epochs_done']} of {resume['epochs']}")
    num_train, num_val = len(train_recs), len(val_recs)  # over every worker
    if cluster.workers > 1:  # each worker decodes and trains on its own shard
        train_recs = train_recs[cluster.worker_index::cluster.workers]
        val_recs = val_recs[cluster.worker_index::cluster.workers]
        say(f"worker {cluster.worker_index}: its shard is {len(train_recs)} training and "
            f"{len(val_recs)} validation images")

    log({"phase": "preparing"})
    plan = make_plan(config, report, num_train, log)  # every worker: the same plan
    if init is not None:
        from resnet_gui.core.continuation import continued_plan

        plan = continued_plan(plan, init, report.classes)
    for note in plan.notes:
        say(note)
    say(
        f"{num_train} training and {num_val} validation images, "
        f"{len(report.classes)} classes; {get_arch(plan.arch).title}, "
        f"{plan.image_size} px, {plan.epochs} epochs, batch {plan.batch_size}"
    )

    from resnet_gui.core import pipeline
    from resnet_gui.core.models import keras_module
    from resnet_gui.core.tfsetup import gpu_supports_mixed_precision, import_tensorflow

    keras = keras_module()
    keras.utils.set_random_seed(config.seed)
    use_mp = config.mixed_precision == "on" or (
        config.mixed_precision == "auto" and gpu_supports_mixed_precision()
    )
    if use_mp and cluster.custom_loop:
        use_mp = False
        say("mixed precision is off for multi-worker training (its loop has no loss scaling)")
    keras.mixed_precision.set_global_policy("mixed_float16" if use_mp else "float32")
    if use_mp:
        say("mixed precision (float16) on the GPU")

    num_classes = len(report.classes)
    size = plan.image_size
    budget = config.memory_budget_mb * 1024 * 1024
    in_memory = (len(train_recs) + len(val_recs)) * size * size * 3 <= budget
    augmenter = pipeline.build_augmenter(plan.augment, config.seed)
    use_cache = (
        config.feature_cache and in_memory and plan.freeze_base and plan.pretrained
        and plan.fine_tune_blocks == 0 and cluster.name == "one"
    )
    batch = plan.batch_size
    if cluster.name != "one":
        say(cluster.describe(batch))
    # fit splits the global batch among replicas; the custom loop's datasets are per replica
    replica_batch = cluster.per_replica_batch(batch)
    if cluster.custom_loop:
        batch = replica_batch
    log({"phase": "building"})
    with cluster.scope():
        model, backbone = build_for_plan(plan, report.classes,
                                         backbone=init.backbone if init is not None else None)
    if init is not None:
        from resnet_gui.core.continuation import copy_head

        copy_head(init, model, report.classes)
    on_cpu = not import_tensorflow().config.list_logical_devices("GPU")
    if on_cpu and (not plan.freeze_base or plan.fine_tune_blocks):
        # On the CPU a batch too large for the memory would swap or be killed: refuse it now.
        from resnet_gui.core.memory import check_batch_fits

        check_batch_fits(backbone, size, replica_batch)
    head = None
    try:
        if in_memory:
            log({"phase": "decoding"})
            say(f"decoding {len(train_recs) + len(val_recs)} images into memory…")
            x_train, train_recs = _decode_records(pipeline, train_recs, size, stop, say)
            x_val, val_recs = _decode_records(pipeline, val_recs, size, stop, say)
        train_paths = [r.path for r in train_recs]
        val_paths = [r.path for r in val_recs]
        train_labels = np.array([r.label for r in train_recs], dtype=np.int32)
        val_labels = np.array([r.label for r in val_recs], dtype=np.int32)
        if len(np.unique(train_labels)) < 2:
            raise TrainingError("the training split has fewer than two classes with images")
        if use_cache:
            from resnet_gui.core.features import cached_feature_datasets

            log({"phase": "extracting features"})
            head, train_ds, val_ds = cached_feature_datasets(
                model, plan, augmenter, x_train, x_val, train_labels, val_labels,
                [r.sha1 for r in train_recs], [r.sha1 for r in val_recs],
                views=config.feature_views, seed=config.seed, cache_dir=config.cache_dir,
                say=say, should_stop=stop,
            )
        elif in_memory:
            train_ds = pipeline.make_dataset(
                x_train, train_labels, num_classes, batch_size=batch, shuffle=True,
                seed=config.seed, augmenter=augmenter,
            )
            val_ds = pipeline.make_dataset(
                x_val, val_labels, num_classes, batch_size=batch, shuffle=False, seed=config.seed,
            ) if val_paths else None
        else:
            say("the images do not fit the memory budget: decoding from disk every epoch")
            def dropped(err: Any) -> None:
                say(f"skipped {err.path}: {err.reason} (it changed since the scan)")

            train_ds = pipeline.make_file_dataset(
                train_paths, train_labels, num_classes, size, batch_size=batch, shuffle=True,
                seed=config.seed, augmenter=augmenter, on_failure=dropped,
            )
            val_ds = pipeline.make_file_dataset(
                val_paths, val_labels, num_classes, size, batch_size=batch, shuffle=False,
                seed=config.seed, on_failure=dropped,
            ) if val_paths else None
    except Stopped:
        raise Stopped(STOPPED_BEFORE_TRAINING) from None

    steps = max(1, math.ceil((num_train if cluster.workers > 1 else len(train_paths))
                             / plan.batch_size))
    runner_kwargs: dict[str, Any] = dict(
        on_batch=on_batch, on_epoch=on_epoch, log=log, stop=stop, checkpoint=checkpoint,
        checkpoint_state={"config": config.to_dict(), "fingerprint": data_print}, resume=resume,
    )
    if cluster.custom_loop:
        from resnet_gui.core.distributed import DistributedRunner

        runner: Runner = DistributedRunner(model, backbone, plan, steps, num_val > 0,
                                           cluster=cluster, **runner_kwargs)
    else:
        runner = Runner(head if head is not None else model, backbone, plan, steps,
                        val_ds is not None, strategy=cluster.strategy, **runner_kwargs)
    log({"phase": "training"})
    runner.fit(train_ds, val_ds)
    if head is not None:
        from resnet_gui.core.features import copy_head_weights

        copy_head_weights(head, model)

    calibration = _calibrate(head if head is not None else model, val_ds, say)
    best = runner.best
    val_acc = best["val_accuracy"] if best and runner.has_val else None
    from resnet_gui.core.models import set_model_info
    from resnet_gui.core.tfsetup import versions

    set_model_info(
        model,
        architecture=plan.arch,
        image_size=size,
        weights=("imagenet" if plan.weights == "imagenet" else
                 ("file" if plan.weights else "none")),
        trained_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        val_accuracy=val_acc,
        best_epoch=best["epoch"] if best else None,
        epochs_run=len(runner.history),
        num_train=num_train if cluster.workers > 1 else len(train_paths),
        num_val=num_val if cluster.workers > 1 else len(val_paths),
        dataset=str(report.root),
        plan=plan.to_dict(),
        **calibration,
        **versions(),
    )
    seconds = time.perf_counter() - started
    if runner.stopped:
        say("training stopped by the user; keeping the best weights so far")
    if val_acc is not None:
        say(f"best epoch {best['epoch']} (lowest validation loss): validation accuracy "
            f"{val_acc:.4f} ({seconds:.0f} s)")
    return TrainResult(
        model=model,
        class_names=list(report.classes),
        plan=plan,
        history=runner.history,
        best_epoch=best["epoch"] if best else None,
        val_accuracy=val_acc,
        stopped=runner.stopped,
        seconds=seconds,
        report=report,
        num_train=num_train if cluster.workers > 1 else len(train_paths),
        num_val=num_val if cluster.workers > 1 else len(val_paths),
        val_images=list(val_paths),
        temperature=calibration["temperature"],
        checkpoint=checkpoint,
        chief=cluster.is_chief,
    )


def _scan(folder: str, stop: ShouldStop, classes: list[str] | None = None) -> DatasetReport:
    """``scan_dataset``; a stop there says that nothing is kept."""
    try:
        return scan_dataset(folder, classes=classes, should_stop=stop)
    except Stopped:
        raise Stopped(STOPPED_BEFORE_TRAINING) from None


def _calibrate(model: Any, val_ds: Any, say: Callable[[str], None]) -> dict:
    """Fit the temperature on the validation split (``core.calibration``); logs ECE before and
    after. Returns the model-card entries: temperature, ece, ece_uncalibrated."""
    from resnet_gui.core.calibration import (
        apply_temperature,
        expected_calibration_error,
        fit_temperature,
    )

    if val_ds is None:
        say("no validation split: the probabilities are not calibrated (temperature 1)")
        return {"temperature": 1.0, "ece": None, "ece_uncalibrated": None}
    probs, labels = [], []
    for x, y in val_ds:
        probs.append(np.asarray(model(x, training=False), dtype=np.float64))
        labels.append(np.asarray(y).argmax(axis=1))
    p, y = np.concatenate(probs), np.concatenate(labels)
    temperature = fit_temperature(p, y)
    before = expected_calibration_error(p, y)
    after = expected_calibration_error(apply_temperature(p, temperature), y)
    why = (" (kept at 1: the validation split has no errors to learn how sure to be from)"
           if temperature == 1.0 and bool((p.argmax(axis=1) == y).all()) else "")
    say(
        f"calibration: temperature {temperature:.3f}{why}; expected calibration error "
        f"{before:.3f} -> {after:.3f} on the {len(y)} validation images"
    )
    return {"temperature": round(temperature, 6), "ece": round(after, 6),
            "ece_uncalibrated": round(before, 6)}


def _decode_records(
    pipeline: Any, records: list, size: int, stop: ShouldStop, say: Callable[[str], None]
) -> tuple[np.ndarray, list]:
    """Decode the records' files; files that fail now (changed since the scan) are dropped."""
    images, errors = pipeline.decode_many([r.path for r in records], size, should_stop=stop)
    if not errors:
        return images, records
    failed = {e.path for e in errors}
    for err in sorted(errors, key=lambda e: e.path):
        say(f"skipped {err.path}: {err.reason} (it changed since the scan)")
    keep = [i for i, r in enumerate(records) if r.path not in failed]
    return images[keep], [records[i] for i in keep]
