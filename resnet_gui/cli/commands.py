"""The commands that train and use models: gui, scan, train, predict, evaluate, cache."""

from __future__ import annotations

import argparse
import csv
import io
import json
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from resnet_gui.core.base.config import TrainConfig

from resnet_gui.cli.common import (
    EXIT_FAILED_INPUTS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    load_classifier,
)


def cmd_gui(args: argparse.Namespace) -> int:
    """Open the desktop app."""
    from resnet_gui.core.model.files import MODEL_SUFFIXES
    from resnet_gui.ui.app import run_app

    # A model among the files (a double-clicked .keras file) is the model to load.
    models = [p for p in args.images if Path(p).suffix.lower() in MODEL_SUFFIXES]
    images = [p for p in args.images if p not in models]
    if len(models) + bool(args.model) > 1:
        raise UsageError("open one model at a time")
    model = args.model or (models[0] if models else None)
    if args.evaluate and not model:
        raise UsageError("--evaluate needs --model (the model to evaluate)")
    return run_app(data=args.data, model=model, images=images, demo=args.demo,
                   evaluate=args.evaluate)


def cmd_scan(args: argparse.Namespace) -> int:
    """Print the scan report of a dataset folder."""
    from resnet_gui.core.data.dataset import scan_dataset

    report = scan_dataset(args.data_dir)
    if args.format == "json":
        print(report.to_json())
        return EXIT_OK
    counts = report.counts
    width = max(len(c) for c in counts) + 2
    print(f"{report.root}: {len(report.classes)} classes, {len(report.images)} usable images "
          f"(median side {report.median_size()} px), scanned in {report.seconds:.1f} s")
    for name, n in counts.items():
        print(f"  {name:<{width}}{n:>6}")
    if report.unusable:
        print(f"{len(report.unusable)} unusable file(s):")
        for u in report.unusable:
            print(f"  {u.path}: {u.reason}" + (f" ({u.detail})" if u.detail else ""))
    if report.skipped:
        print(f"{len(report.skipped)} file(s) skipped (hidden or not an image extension)")
    for w in report.warnings:
        print(f"warning: {w}")
    return EXIT_OK


class _TerminalProgress:
    """Prints a progress bar on a terminal and one line per epoch everywhere."""

    def __init__(self, stream: io.TextIOBase | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.last = ""

    def batch(self, s: dict) -> None:
        from resnet_gui.core.base.text import format_duration

        if not self.tty:
            return
        frac = s["batch"] / max(1, s["batches"])
        bar = "#" * int(frac * 24)
        line = (f"\repoch {s['epoch']}/{s['epochs']} [{bar:<24}] {s['batch']}/{s['batches']} "
                f"loss {s['loss']:.4f} acc {s['accuracy']:.3f} ETA {format_duration(s['eta'])}")
        self.stream.write(line)
        self.stream.flush()

    def epoch(self, s: dict) -> None:
        from resnet_gui.core.base.text import format_epoch_line

        if self.tty:
            self.stream.write("\r" + " " * 90 + "\r")
        print(format_epoch_line(s), file=self.stream, flush=True)

    def log(self, d: dict) -> None:
        if "message" in d:
            print(d["message"], file=self.stream, flush=True)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig that ``train``'s arguments stand for (``core.train.server_command`` writes
    these arguments back from a TrainConfig)."""
    from resnet_gui.core.base.config import TRAIN_FLAGS, TrainConfig

    return TrainConfig(
        data_dir=args.data_dir,
        **{field: getattr(args, field) for field in TRAIN_FLAGS},
        feature_cache=not args.no_feature_cache,
        run_out=str(Path(args.out)),
    )


def cmd_train(args: argparse.Namespace) -> int:
    """Train, print progress, save the model."""
    from resnet_gui.core.base.atomic import check_writable
    from resnet_gui.core.base.errors import Stopped
    from resnet_gui.core.train.training import train

    out = Path(args.out)
    if out.suffix != ".keras":
        raise UsageError(f"--out must end in .keras, got {args.out}")
    check_writable(out)  # a read-only or impossible folder is reported before any training
    config = config_from_args(args)
    progress = _TerminalProgress()
    stop = threading.Event()

    def on_sigint(signum: int, frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        print("\nstopping after this batch (Ctrl-C again to abort)…", file=sys.stderr)
        stop.set()

    previous = signal.signal(signal.SIGINT, on_sigint) if _main_thread() else None
    try:
        result = train(
            config,
            on_batch=progress.batch,
            on_epoch=progress.epoch,
            on_log=progress.log,
            should_stop=stop.is_set,
        )
    except Stopped as exc:
        print(f"resnet-gui: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    acc = f"{result.val_accuracy:.4f}" if result.val_accuracy is not None else "n/a"
    if not result.chief:  # a multi-worker run: the chief writes the model
        import tempfile

        with tempfile.TemporaryDirectory(prefix="resnet-gui-worker-") as tmp:
            result.save(Path(tmp) / out.name)  # the same work as the chief's save, then gone
        print(f"validation accuracy: {acc}")
        print(f"done ({result.seconds:.0f} s); the chief worker saves the model")
        return EXIT_INTERRUPTED if stop.is_set() else EXIT_OK
    path = result.save(out)
    print(f"validation accuracy: {acc}")
    print(f"saved {path} ({result.seconds:.0f} s)"
          + (" (stopped by the user)" if stop.is_set() else ""))
    return EXIT_INTERRUPTED if stop.is_set() else EXIT_OK


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def cmd_predict(args: argparse.Namespace) -> int:
    """Classify images and folders; exit 1 when any input failed."""
    from resnet_gui.core.data.images import expand_inputs
    from resnet_gui.core.use.inference import prediction_rows

    if args.move and not args.sort_into:
        raise UsageError("--move needs --sort-into OUT")
    if args.sort_into:
        from resnet_gui.cli.tools import sort_command

        return sort_command(args)
    clf = load_classifier(args)
    paths = expand_inputs(args.paths)
    if not paths:
        raise UsageError("no images found in the given paths")
    results = []
    for batch in clf.iter_predict(paths, top_k=args.top_k, batch_size=args.batch_size,
                                  min_confidence=args.min_confidence):
        results.extend(batch)
        if args.format == "table":
            for r in batch:
                if r.error:
                    print(f"{r.path}\tERROR: {r.error}")
                else:
                    tops = ", ".join(
                        f"{lab} {p:.1%}" for lab, p in zip(r.labels, r.probabilities, strict=True)
                    )
                    print(f"{r.path}\t{tops}" + ("\t(uncertain)" if r.uncertain else ""))
    if args.format == "json":
        print(json.dumps([r.to_dict() for r in results], indent=2, ensure_ascii=False))
    elif args.format == "csv":
        k = min(args.top_k, len(clf.class_names))
        csv.writer(sys.stdout).writerows(prediction_rows((r.to_dict() for r in results), k))
    failed = sum(1 for r in results if r.error)
    if failed:
        print(f"{failed} of {len(results)} input(s) could not be classified", file=sys.stderr)
        return EXIT_FAILED_INPUTS
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Print accuracy, per-class metrics, the confusion matrix, suspected label errors,
    calibration and (with --robustness) accuracy on corrupted copies."""
    from resnet_gui.core.use.evaluation import evaluate

    clf = load_classifier(args)
    rep = evaluate(clf, args.data_dir, robustness=args.robustness)
    if args.format == "json":
        print(json.dumps(rep.to_dict(), indent=2, ensure_ascii=False))
        return EXIT_OK
    print(f"accuracy {rep.accuracy:.4f} on {len(rep.paths)} images")

    def num(v: object) -> str:
        return f"{v:>10.3f}" if isinstance(v, float) else f"{'—':>10}"

    width = max(len(c) for c in rep.classes) + 2
    print(f"{'class':<{width}}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}")
    for name, m in rep.per_class.items():
        note = "  (no images)" if not m["support"] else ""
        print(f"{name:<{width}}{num(m['precision'])}{num(m['recall'])}{num(m['f1'])}"
              f"{m['support']:>9d}{note}")
    print("confusion matrix (rows: true class, columns: predicted):")
    for name, row in zip(rep.classes, rep.confusion_matrix, strict=True):
        print(f"  {name:<{width}}" + " ".join(f"{v:>5d}" for v in row))
    cal = rep.calibration
    print(f"calibration: temperature {cal['temperature']:.3f}, expected calibration error "
          f"{cal['ece']:.3f} (uncalibrated {cal['ece_uncalibrated']:.3f})")
    if rep.suspected_label_errors:
        print(f"{len(rep.suspected_label_errors)} suspected label error(s), most suspicious first:")
        for m in rep.suspected_label_errors[:20]:
            print(f"  {m['path']}: labelled {m['label']}, looks like {m['predicted']} "
                  f"({m['confidence']:.2f})")
    if rep.robustness is not None:
        print("robustness (accuracy on corrupted copies):")
        for name, acc in rep.robustness.items():
            print(f"  {name:<10}{acc:.4f}")
    for u in rep.unusable:
        print(f"skipped {u['path']}: {u['reason']}")
    return EXIT_OK


def cmd_cache(args: argparse.Namespace) -> int:
    """Show or clear the backbone feature cache."""
    from resnet_gui.core.train.features import FeatureCache

    cache = FeatureCache()
    if args.action == "clear":
        n, size = cache.clear()
        print(f"removed {n} cached feature files ({size / 1e6:.1f} MB) from {cache.root}")
    else:
        n, size = cache.usage()
        print(f"{cache.root}: {n} files, {size / 1e6:.1f} MB (limit {cache.max_bytes / 1e6:.0f} MB)")
    return EXIT_OK
