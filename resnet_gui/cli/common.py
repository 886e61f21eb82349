"""What every command shares: the usage error, the exit statuses, argument types."""

from __future__ import annotations

import argparse
import sys

SUBCOMMANDS = ("gui", "scan", "train", "predict", "evaluate", "review", "explain", "export",
               "cache")
#: Options that act on the installation, not on a command (no implicit "gui" before them).
INSTALL_OPTIONS = ("--selftest", "--install-desktop-entry", "--uninstall-desktop-entry")
EXIT_OK, EXIT_FAILED_INPUTS, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130
EXIT_SELFTEST_FAILED = 1


class UsageError(Exception):
    """Bad command-line arguments (exit status 2)."""


class Parser(argparse.ArgumentParser):
    """argparse, but errors are one line and status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see {self.prog} --help)")


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text}")
    return value


def fraction(text: str) -> float:
    """An argparse type: a number from 0 up to (not including) 1."""
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def add_input_scale(parser: argparse.ArgumentParser) -> None:
    """The ``--input-scale`` option of commands that open a model made elsewhere."""
    from resnet_gui.core.model.files import INPUT_SCALES

    parser.add_argument(
        "--input-scale", choices=tuple(INPUT_SCALES), metavar="|".join(INPUT_SCALES),
        help="for a model made elsewhere that does not say it: the pixel range it expects "
        "(Teachable Machine models: -1-1, assumed)",
    )


def load_classifier(args: argparse.Namespace):  # noqa: ANN201 - Classifier, imported lazily
    """The model named by ``args.model``, with ``--input-scale`` when given; assumptions about
    a model made elsewhere are printed on stderr."""
    from resnet_gui.core.use.inference import Classifier

    clf = Classifier.load(args.model, getattr(args, "input_scale", None))
    for note in clf.info.get("assumed") or []:
        print(f"note: {note}", file=sys.stderr)
    return clf
