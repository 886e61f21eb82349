"""The commands that act on a trained model: explain, export, review and ``predict --sort-into``."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

from resnet_gui.cli.common import EXIT_FAILED_INPUTS, EXIT_OK, UsageError, load_classifier


def cmd_explain(args: argparse.Namespace) -> int:
    """Write a Grad-CAM overlay PNG per image (and the raw heat-map with --heatmap)."""
    from resnet_gui.core.base.errors import ImageError
    from resnet_gui.core.data.images import expand_inputs
    from resnet_gui.core.use.explain import class_index, explain_to_files

    images = expand_inputs(args.images)
    if not images:
        raise UsageError("no images found in the given paths")
    out = Path(args.out).expanduser()
    several = len(images) > 1 or out.is_dir()
    if several:
        if out.exists() and not out.is_dir():
            raise UsageError(f"--out must be a folder for several images: {out}")
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create {out}: {exc.strerror or exc}") from exc
    elif out.suffix.lower() != ".png":
        raise UsageError(f"--out must end in .png for one image (or be a folder): {out}")
    else:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create {out.parent}: {exc.strerror or exc}") from exc
    clf = load_classifier(args)
    class_index(clf, args.label)  # an unknown class is refused before any work
    failed = 0
    used: set[str] = set()
    for path in images:
        target = out / _png_name(Path(path), used) if several else out
        try:
            written = explain_to_files(clf, path, str(target), args.label, args.heatmap)
        except ImageError as err:
            failed += 1
            print(f"{path}\tERROR: {err.reason}" + (f": {err.detail}" if err.detail else ""))
            continue
        print(f"{path}\t" + "\t".join(written))
    if failed:
        print(f"{failed} of {len(images)} image(s) could not be explained", file=sys.stderr)
        return EXIT_FAILED_INPUTS
    return EXIT_OK


def _png_name(path: Path, used: set[str]) -> str:
    """``<stem>.png``, made unique among the images of one run (two folders may share names)."""
    name = f"{path.stem}.png"
    k = 2
    while name in used:
        name = f"{path.stem} ({k}).png"
        k += 1
    used.add(name)
    return name


def cmd_export(args: argparse.Namespace) -> int:
    """Export a model; with --check, run the export in its runtime and compare."""
    from resnet_gui.core.use.export import target_path
    from resnet_gui.core.use.export_check import export_and_check

    if args.int8 and args.format != "tflite":
        raise UsageError("--int8 applies to --format tflite only")
    if args.int8 and not args.calibration:
        raise UsageError("--int8 needs --calibration DATA (a folder of typical images)")
    for folder in (args.check, args.calibration):
        if folder and not Path(folder).exists():
            raise UsageError(f"{folder} does not exist")
    target_path(args.format, args.out)  # a bad path is reported before the model loads
    clf = load_classifier(args)

    def exported(done: Any) -> None:
        print(f"exported {done.path} ({args.format}{', int8' if args.int8 else ''}); "
              f"contract in {done.card_path}", flush=True)

    _, check = export_and_check(clf, args.format, args.out, int8=args.int8,
                                calibration=args.calibration, check=args.check,
                                on_exported=exported)
    if check is None:
        return EXIT_OK
    print(check.line())
    if not check.passed:
        print(f"the export agrees with the model on fewer than {check.threshold:.0%} of the "
              "images", file=sys.stderr)
        return EXIT_FAILED_INPUTS
    return EXIT_OK


def sort_command(args: argparse.Namespace) -> int:
    """``predict --sort-into OUT``: copy or move images into class folders."""
    from resnet_gui.core.use.sorting import SORT_CSV, sort_into

    clf = load_classifier(args)
    tty = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if tty:
            sys.stderr.write(f"\rsorted {done}/{total}")
            sys.stderr.flush()

    report = sort_into(clf, args.paths, args.sort_into, move=args.move,
                       min_confidence=args.min_confidence, batch_size=args.batch_size,
                       progress=progress)
    if tty:
        sys.stderr.write("\n")
    for path, reason in report.unreadable:
        print(f"left in place: {path}: {reason}")
    print(report.summary())
    print(f"every file is listed in {Path(report.out_dir) / SORT_CSV}")
    return EXIT_FAILED_INPUTS if report.unreadable else EXIT_OK


def cmd_review(args: argparse.Namespace) -> int:
    """Print unlabelled images in the order in which labelling them helps most; exit 1 when
    any image could not be read (named on stderr, never ranked)."""
    from resnet_gui.core.data.images import expand_inputs
    from resnet_gui.core.use.review import CSV_HEADER, review

    if not expand_inputs(args.paths):
        raise UsageError("no images found in the given paths")
    clf = load_classifier(args)
    items, errors = review(clf, args.paths, labelled=[args.labelled] if args.labelled else ())
    shown = items[: args.top] if args.top else items
    if args.format == "json":
        print(json.dumps([i.to_dict() for i in shown], indent=2, ensure_ascii=False))
    elif args.format == "csv":
        out = csv.writer(sys.stdout)
        out.writerow(CSV_HEADER)
        out.writerows([d[k] for k in CSV_HEADER] for d in (i.to_dict() for i in shown))
    else:
        for rank, item in enumerate(shown, 1):
            print(f"{rank}\t{item.path}\t{item.predicted} {item.confidence:.1%}\t"
                  f"score {item.score:.3f}")
    for path, reason in errors.items():
        print(f"{path}: cannot read: {reason}", file=sys.stderr)
    return EXIT_FAILED_INPUTS if errors else EXIT_OK
