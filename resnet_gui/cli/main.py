"""The command line: ``resnet-gui [gui] | scan | train | predict | evaluate | review | explain |
export | cache``, and ``resnet-gui --selftest | --install-desktop-entry | --uninstall-desktop-entry``.

Usage and data errors print one line on stderr and exit with status 2 (``--debug`` shows the
traceback); Ctrl-C exits with 130. Nothing here imports TensorFlow or Qt at module level:
``resnet-gui`` opens the window before TensorFlow loads.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from resnet_gui.cli import commands, install, tools
from resnet_gui.cli.common import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    INSTALL_OPTIONS,
    SUBCOMMANDS,
    UsageError,
)
from resnet_gui.cli.parser import build_parser


def _normalise_argv(argv: list[str]) -> list[str]:
    """Insert the implicit 'gui' command: ``resnet-gui --demo`` == ``resnet-gui gui --demo``."""
    i = 0
    while i < len(argv) and argv[i] == "--debug":
        i += 1
    rest = argv[i:]
    keep = SUBCOMMANDS + INSTALL_OPTIONS + ("-h", "--help", "--version")
    if not rest or rest[0] not in keep:
        return argv[:i] + ["gui"] + rest
    return argv


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``resnet-gui`` command; returns the exit status."""
    args_list = _normalise_argv(list(sys.argv[1:] if argv is None else argv))
    debug = "--debug" in args_list
    if debug:
        import os

        from resnet_gui.core.base.tfsetup import DEBUG_ENV

        os.environ[DEBUG_ENV] = "1"  # before TensorFlow loads, here and in child processes
    from resnet_gui.core.base.errors import ResnetGuiError, Stopped
    from resnet_gui.core.data.images import configure_pillow

    configure_pillow()

    try:
        args = build_parser().parse_args(args_list)
        if args.command is None or install.chosen(args):
            return install.cmd_install_option(args)
        handler = {
            "gui": commands.cmd_gui,
            "scan": commands.cmd_scan,
            "train": commands.cmd_train,
            "predict": commands.cmd_predict,
            "evaluate": commands.cmd_evaluate,
            "review": tools.cmd_review,
            "explain": tools.cmd_explain,
            "export": tools.cmd_export,
            "cache": commands.cmd_cache,
        }[args.command]
        return handler(args)
    except Stopped as exc:  # asked for: not an error
        print(f"resnet-gui: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (UsageError, ResnetGuiError) as exc:
        if debug:
            raise
        print(f"resnet-gui: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("resnet-gui: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def main_gui() -> int:
    """Entry point of the windowed launcher (no console)."""
    return main()
