"""Training: a plain function with progress callables, so the GUI, the CLI and tests share it.

``train(config, on_batch=..., on_epoch=..., on_log=..., should_stop=...)`` takes only plain
callables and passes only plain data (floats, ints, strings, dicts) to them; it never touches Qt.
See ``docs/recipe.md`` for why the defaults are what they are.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np

from resnet_gui.core.base.calibration import calibrate
from resnet_gui.core.base.config import OnBatch, OnEpoch, OnLog, ShouldStop, TrainConfig
from resnet_gui.core.base.errors import STOPPED_BEFORE_TRAINING, Stopped, TrainingError
from resnet_gui.core.data.dataset import DatasetReport, require_folder, scan_dataset
from resnet_gui.core.data.split import stratified_split
from resnet_gui.core.model.archs import get_arch
from resnet_gui.core.train.recipe import check_settings, class_weights, make_plan
from resnet_gui.core.train.result import TrainResult
from resnet_gui.core.train.runner import Runner, build_for_plan


def _noop(_: Any) -> None:
    return None


@dataclass
class _Run:
    """What the stages of one :func:`train` call hand on to each other."""

    config: TrainConfig
    log: OnLog
    stop: ShouldStop
    cluster: Any = None
    checkpoint: Any = None
    resume: dict | None = None
    init: Any = None
    report: DatasetReport | None = None
    train_recs: list = field(default_factory=list)
    val_recs: list = field(default_factory=list)
    data_print: str = ""
    #: Training and validation images over every worker; after decoding, without the files
    #: that failed (counted once here, used by the steps, the model card and the result).
    num_train: int = 0
    num_val: int = 0
    plan: Any = None

    def say(self, message: str) -> None:
        """A line for the user's log."""
        self.log({"message": message})

    @property
    def classes(self) -> list[str]:
        """The data set's class names (once scanned)."""
        if self.report is None:
            raise RuntimeError("the data set is not scanned yet")
        return list(self.report.classes)


@dataclass
class _Data:
    """The datasets of a run (``head``: the classifier head when features are cached)."""

    train_ds: Any
    val_ds: Any
    val_paths: list[str]
    head: Any = None


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

    The stages, in order: open the run (cluster, resume, the model to continue from), scan
    and split, plan, build, the datasets, fit, and finish (calibrate, model card, result).

    Args:
        config: the settings; automatic ones are resolved by ``recipe.make_plan``.
        on_batch: called after each training batch with a ``config.BatchEvent``.
        on_epoch: called after each epoch with a ``config.EpochEvent``.
        on_log: called with a ``config.LogEvent``: lines a user should read, phase names.
        should_stop: polled before anything begins (a stop then skips TensorFlow's import),
            during the scan and decoding, and after every batch; True ends training cleanly
            within a batch, keeping the best weights so far.
        report: a scan of ``config.data_dir`` already made (skips scanning again).

    Returns:
        A :class:`TrainResult` whose model carries its class names and metadata.

    Raises:
        DatasetError, TrainingError, WeightsUnavailableError: with a message for the user.
        Stopped: stopped before training began (during the scan, decoding or feature
            extraction): nothing to keep. A stop during training returns the best weights.
    """
    started = time.perf_counter()
    if not config.resume:  # a resumed run takes its saved settings (checked by make_plan)
        check_settings(config)  # in milliseconds: before the scan and before TensorFlow
    for folder in (None if report is not None else config.data_dir, config.val_dir):
        if folder:
            require_folder(folder)  # and no folder, no wait for TensorFlow either
    run = _Run(config, on_log or _noop, should_stop or (lambda: False))
    if run.stop():  # asked before anything began: no wait for TensorFlow's import
        raise Stopped(STOPPED_BEFORE_TRAINING)
    _open_run(run)
    _scan_and_split(run, report)
    _make_plan(run)
    _set_precision(run)
    from resnet_gui.core.data.pipeline import build_augmenter

    augmenter = build_augmenter(run.plan.augment, run.config.seed)  # before the model, as ever
    model, backbone = _build(run)
    try:
        data = _datasets(run, model, augmenter)
    except Stopped:
        raise Stopped(STOPPED_BEFORE_TRAINING) from None
    runner = _fit(run, model, backbone, data, on_batch or _noop, on_epoch or _noop)
    return _finish(run, model, runner, data, started)


def _open_run(run: _Run) -> None:
    """The strategy first (a multi-worker one must exist before any other TensorFlow work),
    then the checkpoint to resume from, and the model to continue from (``--init``)."""
    from resnet_gui.core.train.checkpoint import open_for
    from resnet_gui.core.train.distributed import make_cluster

    config = run.config
    run.cluster = cluster = make_cluster(config.strategy, continuing=bool(config.init))
    if config.init and cluster.name != "one":
        raise TrainingError("--init (continue from a model) runs on one device: use "
                            "--strategy one")
    run.checkpoint, run.resume = open_for(config, run.say) if cluster.is_chief else (None, None)
    if cluster.workers > 1:  # the chief's checkpoint decides for every worker
        run.resume = cluster.broadcast_json(run.resume)
    if run.resume is not None:  # the interrupted run's settings, whatever was given now
        # (a checkpoint from before class weights existed trained without them)
        run.config = TrainConfig.from_dict({"class_balance": "none", **run.resume["config"],
                                            "resume": True,
                                            "run_out": config.run_out,
                                            "strategy": config.strategy,
                                            "data_dir": config.data_dir})
    if run.config.init:
        from resnet_gui.core.train.continuation import check_config, load_init

        run.init = load_init(run.config.init)
        if run.resume is None:  # a resumed run's saved config was checked when it began
            run.config = check_config(run.config, run.init)


def _scan_and_split(run: _Run, report: DatasetReport | None) -> None:
    """Scan (unless given), split off the validation images (or scan ``--val-dir``), check a
    resumed run's data, and take this worker's share of the validation images."""
    config = run.config
    if report is None:
        run.log({"phase": "scanning"})
        report = _scan(config.data_dir, run.stop)
    run.report = report
    for bad in report.unusable:
        run.say(f"skipped {bad.path}: {bad.reason}" + (f" ({bad.detail})" if bad.detail else ""))
    for warning in report.warnings:
        run.say(f"warning: {warning}")
    if config.val_dir:
        val_report = _scan(config.val_dir, run.stop, classes=report.classes)
        for bad in val_report.unusable:
            run.say(f"skipped {bad.path}: {bad.reason}")
        run.train_recs, run.val_recs = list(report.images), list(val_report.images)
    else:
        groups = report.duplicate_groups()
        tr, va = stratified_split(report.labels, config.val_split, config.seed, groups)
        grouped = len(groups) - len(np.unique(groups))
        if grouped and config.val_split > 0:
            run.say(f"{grouped} near-duplicate photo(s) kept on the same side of the "
                    "training/validation split as their look-alikes")
        run.train_recs = [report.images[i] for i in tr]
        run.val_recs = [report.images[i] for i in va]
    if len({r.label for r in run.train_recs}) < 2:
        raise TrainingError("the training split has fewer than two classes with images")
    _check_resumed_data(run)
    run.num_train, run.num_val = len(run.train_recs), len(run.val_recs)  # every worker's
    cluster = run.cluster
    if cluster.workers > 1:  # every worker trains on its slice of each global batch
        run.val_recs = run.val_recs[cluster.worker_index::cluster.workers]
        run.say(f"worker {cluster.worker_index}: its slice of every global batch of the "
                f"{run.num_train} training images, and {len(run.val_recs)} validation images")


def _check_resumed_data(run: _Run) -> None:
    """A resumed run goes on only on the data it began with."""
    from resnet_gui.core.train.checkpoint import describe_changes, fingerprint

    run.data_print = fingerprint([r.path for r in run.train_recs + run.val_recs])
    if run.resume is None:
        return
    if run.cluster.is_chief:  # other workers' paths may differ
        changes = describe_changes(run.resume["fingerprint"], run.data_print)
        if changes:
            raise TrainingError(
                f"the data changed since the interrupted run: {changes}; start a fresh run "
                "(without --resume), or put the files back"
            )
    run.say(f"resuming from epoch {run.resume['epochs_done']} of {run.resume['epochs']}")


def _make_plan(run: _Run) -> None:
    """The automatic choices (every worker makes the same plan), and the summary line."""
    run.log({"phase": "preparing"})
    assert run.report is not None
    plan = make_plan(run.config, run.report, run.num_train, run.log)
    if run.init is not None:
        from resnet_gui.core.train.continuation import continued_plan

        plan = continued_plan(plan, run.init, run.classes)
    for note in plan.notes:
        run.say(note)
    run.say(
        f"{run.num_train} training and {run.num_val} validation images, "
        f"{len(run.classes)} classes; {get_arch(plan.arch).title}, "
        f"{plan.image_size} px, {plan.epochs} epochs, batch {plan.batch_size}"
    )
    run.plan = plan


def _set_precision(run: _Run) -> None:
    """The seed, and float16 on a GPU that gains from it (not in the multi-worker loop)."""
    from resnet_gui.core.base.tfsetup import gpu_supports_mixed_precision
    from resnet_gui.core.model.build import keras_module

    config = run.config
    keras = keras_module()
    keras.utils.set_random_seed(config.seed)
    use_mp = config.mixed_precision == "on" or (
        config.mixed_precision == "auto" and gpu_supports_mixed_precision()
    )
    if use_mp and run.cluster.custom_loop:
        use_mp = False
        run.say("mixed precision is off for multi-worker training (its loop has no loss "
                "scaling)")
    keras.mixed_precision.set_global_policy("mixed_float16" if use_mp else "float32")
    if use_mp:
        run.say("mixed precision (float16) on the GPU")


def _build(run: _Run) -> tuple[Any, Any]:
    """The model (continued from ``--init`` if given) and its backbone; on the CPU a batch too
    large for the memory is refused now rather than swapping or being killed."""
    from resnet_gui.core.base.tfsetup import import_tensorflow

    plan, cluster, init = run.plan, run.cluster, run.init
    if cluster.name != "one":
        run.say(cluster.describe(plan.batch_size))
    run.log({"phase": "building"})
    with cluster.scope():
        model, backbone = build_for_plan(plan, run.classes,
                                         backbone=init.backbone if init is not None else None)
    if init is not None:
        from resnet_gui.core.train.continuation import copy_head

        copy_head(init, model, run.classes)
    on_cpu = not import_tensorflow().config.list_logical_devices("GPU")
    if on_cpu and (not plan.freeze_base or plan.fine_tune_blocks):
        from resnet_gui.core.model.memory import check_batch_fits

        check_batch_fits(backbone, plan.image_size, cluster.per_replica_batch(plan.batch_size))
    return model, backbone


def _datasets(run: _Run, model: Any, augmenter: Any) -> _Data:
    """The training and validation datasets: cached backbone features (frozen pretrained
    backbone), images decoded into memory, or files decoded every epoch (too many images)."""
    from resnet_gui.core.data import pipeline

    config, plan, cluster = run.config, run.plan, run.cluster
    size = plan.image_size
    in_memory = ((run.num_train + run.num_val) * size * size * 3  # the same on every worker
                 <= config.memory_budget_mb * 1024 * 1024)
    use_cache = (config.feature_cache and in_memory and plan.freeze_base and plan.pretrained
                 and plan.fine_tune_blocks == 0 and cluster.name == "one")
    batch = plan.batch_size  # global: fit and the multi-worker loop split it among replicas
    if not in_memory:
        return _file_datasets(run, pipeline, augmenter, batch)
    run.log({"phase": "decoding"})
    run.say(f"decoding {len(run.train_recs) + len(run.val_recs)} images into memory…")
    x_train, run.train_recs = _decode_records(pipeline, run.train_recs, size, run.stop, run.say)
    x_val, run.val_recs = _decode_records(pipeline, run.val_recs, size, run.stop, run.say)
    y_train, y_val = _labels(run)
    val_paths = [r.path for r in run.val_recs]
    if use_cache:
        from resnet_gui.core.train.features import cached_feature_datasets

        run.log({"phase": "extracting features"})
        head, train_ds, val_ds = cached_feature_datasets(
            model, plan, augmenter, x_train, x_val, y_train, y_val,
            [r.sha1 for r in run.train_recs], [r.sha1 for r in run.val_recs],
            views=config.feature_views, seed=config.seed, cache_dir=config.cache_dir,
            say=run.say, should_stop=run.stop,
        )
        return _Data(train_ds, val_ds, val_paths, head)
    classes = len(run.classes)
    train_ds = pipeline.make_dataset(x_train, y_train, classes, batch_size=batch, shuffle=True,
                                     seed=config.seed, augmenter=augmenter)
    val_ds = pipeline.make_dataset(x_val, y_val, classes, batch_size=batch, shuffle=False,
                                   seed=config.seed) if val_paths else None
    return _Data(train_ds, val_ds, val_paths)


def _file_datasets(run: _Run, pipeline: Any, augmenter: Any, batch: int) -> _Data:
    """Datasets that decode the files every epoch (a file that fails then is dropped)."""
    run.say("the images do not fit the memory budget: decoding from disk every epoch")

    def dropped(err: Any) -> None:
        run.say(f"skipped {err.path}: {err.reason} (it changed since the scan)")

    y_train, y_val = _labels(run)
    classes = len(run.classes)
    size, seed = run.plan.image_size, run.config.seed
    val_paths = [r.path for r in run.val_recs]
    train_ds = pipeline.make_file_dataset(
        [r.path for r in run.train_recs], y_train, classes, size, batch_size=batch,
        shuffle=True, seed=seed, augmenter=augmenter, on_failure=dropped)
    val_ds = pipeline.make_file_dataset(
        val_paths, y_val, classes, size, batch_size=batch, shuffle=False, seed=seed,
        on_failure=dropped) if val_paths else None
    return _Data(train_ds, val_ds, val_paths)


def _labels(run: _Run) -> tuple[np.ndarray, np.ndarray]:
    """The labels of the (decoded) records; one process counts its images again here, since
    files that failed to decode were dropped."""
    y_train = np.array([r.label for r in run.train_recs], dtype=np.int32)
    y_val = np.array([r.label for r in run.val_recs], dtype=np.int32)
    if len(np.unique(y_train)) < 2:
        raise TrainingError("the training split has fewer than two classes with images")
    if run.cluster.workers == 1:
        run.num_train, run.num_val = len(run.train_recs), len(run.val_recs)
    return y_train, y_val


def _fit(run: _Run, model: Any, backbone: Any, data: _Data, on_batch: OnBatch,
         on_epoch: OnEpoch) -> Runner:
    """Keras ``fit`` phase by phase (the multi-worker loop under that strategy)."""
    steps = max(1, math.ceil(run.num_train / run.plan.batch_size))
    kwargs: dict[str, Any] = dict(
        class_weights=(class_weights(np.array([r.label for r in run.train_recs]),
                                     len(run.classes))
                       if run.plan.class_balance == "weights" else None),
        on_batch=on_batch, on_epoch=on_epoch, log=run.log, stop=run.stop,
        checkpoint=run.checkpoint, resume=run.resume,
        checkpoint_state={"config": run.config.to_dict(), "fingerprint": run.data_print},
    )
    if run.cluster.custom_loop:
        from resnet_gui.core.train.distributed import DistributedRunner

        # every worker slices the same global batches: each must hold the same images
        run.cluster.check_same_images([r.sha1 for r in run.train_recs])

        runner: Runner = DistributedRunner(model, backbone, run.plan, steps, run.num_val > 0,
                                           cluster=run.cluster, **kwargs)
    else:
        runner = Runner(data.head if data.head is not None else model, backbone, run.plan,
                        steps, data.val_ds is not None, strategy=run.cluster.strategy, **kwargs)
    run.log({"phase": "training"})
    runner.fit(data.train_ds, data.val_ds)
    if data.head is not None:
        from resnet_gui.core.train.features import copy_head_weights

        copy_head_weights(data.head, model)
    return runner


def _finish(run: _Run, model: Any, runner: Runner, data: _Data, started: float) -> TrainResult:
    """Calibrate, write the model card into the model, and say how it went (``started``: the
    run's start on ``time.perf_counter``)."""
    from resnet_gui.core.base.tfsetup import versions
    from resnet_gui.core.model.build import set_model_info

    plan, report = run.plan, run.report
    assert report is not None
    calibration = calibrate(data.head if data.head is not None else model, data.val_ds,
                             run.say)
    best = runner.best
    val_acc = best["val_accuracy"] if best and runner.has_val else None
    set_model_info(
        model, architecture=plan.arch, image_size=plan.image_size,
        weights=("imagenet" if plan.weights == "imagenet" else
                 ("file" if plan.weights else "none")),
        trained_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        val_accuracy=val_acc, best_epoch=best["epoch"] if best else None,
        epochs_run=len(runner.history), num_train=run.num_train, num_val=run.num_val,
        dataset=str(report.root), plan=plan.to_dict(), **calibration, **versions(),
    )
    seconds = time.perf_counter() - started
    if runner.stopped:
        run.say("training stopped by the user; keeping the best weights so far")
    if val_acc is not None:
        run.say(f"best epoch {best['epoch']} (lowest validation loss): validation accuracy "
                f"{val_acc:.4f} ({seconds:.0f} s)")
    return TrainResult(
        model=model, class_names=list(report.classes), plan=plan, history=runner.history,
        best_epoch=best["epoch"] if best else None, val_accuracy=val_acc,
        stopped=runner.stopped, seconds=seconds, report=report, num_train=run.num_train,
        num_val=run.num_val, val_images=list(data.val_paths),
        temperature=calibration["temperature"], checkpoint=run.checkpoint,
        chief=run.cluster.is_chief,
    )


def _scan(folder: str, stop: ShouldStop, classes: list[str] | None = None) -> DatasetReport:
    """``scan_dataset``; a stop there says that nothing is kept."""
    try:
        return scan_dataset(folder, classes=classes, should_stop=stop)
    except Stopped:
        raise Stopped(STOPPED_BEFORE_TRAINING) from None


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
