"""The command line: ``resnet-gui [gui] | scan | train | predict | evaluate | cache``.

Usage and data errors print one line on stderr and exit with status 2 (``--debug`` shows the
traceback). Nothing here imports TensorFlow or Qt at module level: ``resnet-gui`` opens the window
before TensorFlow loads.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from resnet_gui import __version__
from resnet_gui.core.archs import ARCHITECTURES
from resnet_gui.core.config import AUGMENTATIONS, DEFAULT_AUGMENT

SUBCOMMANDS = ("gui", "scan", "train", "predict", "evaluate", "cache")
EXIT_OK, EXIT_FAILED_INPUTS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad command-line arguments (exit status 2)."""


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line and status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see {self.prog} --help)")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text}")
    return value


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = _Parser(
        prog="resnet-gui",
        description="Train and use ResNet image classifiers. With no command, opens the app.",
    )
    parser.add_argument("--version", action="version", version=f"resnet-gui {__version__}")
    parser.add_argument(
        "--debug", action="store_true",
        help="show tracebacks of errors and TensorFlow's own start-up messages",
    )
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    g = sub.add_parser("gui", help="open the desktop app (the default)")
    g.add_argument("--data", help="dataset folder to open in the Training tab")
    g.add_argument("--model", help="model file to load in the Inference tab")
    g.add_argument("--demo", action="store_true", help="open the bundled demo data set")
    g.add_argument(
        "--evaluate", metavar="DATA",
        help="open the Evaluation tab on this class-per-folder tree (with --model)",
    )
    g.add_argument("images", nargs="*", help="images or folders to classify at once")

    s = sub.add_parser("scan", help="check a dataset folder (one subfolder per class)")
    s.add_argument("data_dir")
    s.add_argument("--format", choices=("table", "json"), default="table")

    t = sub.add_parser("train", help="train a classifier on a dataset folder")
    t.add_argument("data_dir")
    t.add_argument("--out", required=True, help="where to save the model (.keras)")
    t.add_argument(
        "--arch",
        default="auto",
        help="auto (default: resnet50 with ImageNet weights when available, else resnet18), "
        + ", ".join(ARCHITECTURES),
    )
    t.add_argument("--weights", default="auto", help="auto | imagenet | none | PATH")
    t.add_argument("--image-size", type=_positive_int, help="input side in pixels (auto)")
    t.add_argument("--epochs", type=_positive_int, help="number of epochs (auto)")
    t.add_argument("--batch-size", type=_positive_int, default=32)
    t.add_argument("--learning-rate", type=float, help="peak learning rate (auto)")
    v = t.add_mutually_exclusive_group()
    v.add_argument("--val-split", type=_fraction, default=0.2)
    v.add_argument("--val-dir", help="a separate validation folder with the same classes")
    f = t.add_mutually_exclusive_group()
    f.add_argument("--freeze-base", action="store_true", help="train only the head")
    f.add_argument(
        "--fine-tune-layers",
        type=int,
        default=0,
        metavar="N",
        help="after training the head, also fine-tune the top N residual blocks",
    )
    t.add_argument(
        "--augment",
        default="auto",
        help=f"comma list of {','.join(AUGMENTATIONS)}; 'all'; 'none'; or 'auto' (the default: "
        f"{','.join(DEFAULT_AUGMENT)}, without flip when the classes change when mirrored, "
        "as digits and letters do)",
    )
    t.add_argument("--seed", type=int, default=42)
    t.add_argument(
        "--feature-views", type=int, default=0, metavar="K",
        help="frozen backbone: also cache K augmented views of each training image (default 0)",
    )
    t.add_argument(
        "--no-feature-cache", action="store_true",
        help="frozen backbone: run the backbone every epoch instead of caching its features",
    )
    t.add_argument("--width", type=_positive_int, help="ResNet-18/34 first-stage width (auto)")

    p = sub.add_parser("predict", help="classify images or folders")
    p.add_argument("model")
    p.add_argument("paths", nargs="+")
    p.add_argument("--top-k", type=_positive_int, default=3)
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--batch-size", type=_positive_int, default=32)
    p.add_argument(
        "--min-confidence", type=_fraction, default=0.0, metavar="P",
        help="mark predictions whose top probability is below P as uncertain",
    )

    e = sub.add_parser("evaluate", help="measure a model on a labelled dataset folder")
    e.add_argument("model")
    e.add_argument("data_dir")
    e.add_argument("--format", choices=("table", "json"), default="table")
    e.add_argument(
        "--robustness", action="store_true",
        help="also measure accuracy on corrupted copies (blur, darker, brighter, jpeg, noise, "
        "rotate; about 7x the time)",
    )

    c = sub.add_parser("cache", help="show or clear the feature cache")
    c.add_argument("action", choices=("info", "clear"))
    return parser


def _normalise_argv(argv: list[str]) -> list[str]:
    """Insert the implicit 'gui' command: ``resnet-gui --demo`` == ``resnet-gui gui --demo``."""
    i = 0
    while i < len(argv) and argv[i] == "--debug":
        i += 1
    rest = argv[i:]
    if not rest or (rest[0] not in SUBCOMMANDS and rest[0] not in ("-h", "--help", "--version")):
        return argv[:i] + ["gui"] + rest
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``resnet-gui`` command; returns the exit status."""
    args_list = _normalise_argv(list(sys.argv[1:] if argv is None else argv))
    debug = "--debug" in args_list
    if debug:
        import os

        from resnet_gui.core.tfsetup import DEBUG_ENV

        os.environ[DEBUG_ENV] = "1"  # before TensorFlow loads, here and in child processes
    from resnet_gui.core.errors import ResnetGuiError

    try:
        args = build_parser().parse_args(args_list)
        handler = {
            "gui": cmd_gui,
            "scan": cmd_scan,
            "train": cmd_train,
            "predict": cmd_predict,
            "evaluate": cmd_evaluate,
            "cache": cmd_cache,
        }[args.command]
        return handler(args)
    except (UsageError, ResnetGuiError) as exc:
        if debug:
            raise
        print(f"resnet-gui: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("resnet-gui: interrupted", file=sys.stderr)
        return 130


def main_gui() -> int:
    """Entry point of the windowed launcher (no console)."""
    return main()


# ------------------------------------------------------------------------------------ commands


def cmd_gui(args: argparse.Namespace) -> int:
    """Open the desktop app."""
    from resnet_gui.ui.app import run_app

    if args.evaluate and not args.model:
        raise UsageError("--evaluate needs --model (the model to evaluate)")
    return run_app(data=args.data, model=args.model, images=args.images, demo=args.demo,
                   evaluate=args.evaluate)


def cmd_scan(args: argparse.Namespace) -> int:
    """Print the scan report of a dataset folder."""
    from resnet_gui.core.dataset import scan_dataset

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
        from resnet_gui.core.text import format_duration

        if not self.tty:
            return
        frac = s["batch"] / max(1, s["batches"])
        bar = "#" * int(frac * 24)
        line = (f"\repoch {s['epoch']}/{s['epochs']} [{bar:<24}] {s['batch']}/{s['batches']} "
                f"loss {s['loss']:.4f} acc {s['accuracy']:.3f} ETA {format_duration(s['eta'])}")
        self.stream.write(line)
        self.stream.flush()

    def epoch(self, s: dict) -> None:
        from resnet_gui.core.text import format_epoch_line

        if self.tty:
            self.stream.write("\r" + " " * 90 + "\r")
        print(format_epoch_line(s), file=self.stream, flush=True)

    def log(self, d: dict) -> None:
        if "message" in d:
            print(d["message"], file=self.stream, flush=True)


def cmd_train(args: argparse.Namespace) -> int:
    """Train, print progress, save the model."""
    from resnet_gui.core.config import TrainConfig
    from resnet_gui.core.training import train

    out = Path(args.out)
    if out.suffix != ".keras":
        raise UsageError(f"--out must end in .keras, got {args.out}")
    config = TrainConfig(
        data_dir=args.data_dir,
        arch=args.arch,
        weights=args.weights,
        image_size=args.image_size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        val_split=args.val_split,
        val_dir=args.val_dir,
        freeze_base=True if args.freeze_base else None,
        fine_tune_blocks=args.fine_tune_layers,
        augment=args.augment,
        seed=args.seed,
        width=args.width,
        feature_views=args.feature_views,
        feature_cache=not args.no_feature_cache,
    )
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
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    path = result.save(out)
    acc = f"{result.val_accuracy:.4f}" if result.val_accuracy is not None else "n/a"
    print(f"validation accuracy: {acc}")
    print(f"saved {path} ({result.seconds:.0f} s)")
    return EXIT_OK


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def cmd_predict(args: argparse.Namespace) -> int:
    """Classify images and folders; exit 1 when any input failed."""
    from resnet_gui.core.inference import Classifier, expand_inputs, prediction_rows

    clf = Classifier.load(args.model)
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
    from resnet_gui.core.evaluation import evaluate
    from resnet_gui.core.inference import Classifier

    clf = Classifier.load(args.model)
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
    from resnet_gui.core.features import FeatureCache

    cache = FeatureCache()
    if args.action == "clear":
        n, size = cache.clear()
        print(f"removed {n} cached feature files ({size / 1e6:.1f} MB) from {cache.root}")
    else:
        n, size = cache.usage()
        print(f"{cache.root}: {n} files, {size / 1e6:.1f} MB (limit {cache.max_bytes / 1e6:.0f} MB)")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
