"""The options that act on the installation itself: ``--selftest`` and the desktop entry."""

from __future__ import annotations

import argparse
import sys

from resnet_gui.cli.common import EXIT_OK, EXIT_SELFTEST_FAILED, UsageError

#: The last line of a passing ``--selftest`` (what scripts and the app workflow look for).
SELFTEST_PASSED = "selftest passed"


def chosen(args: argparse.Namespace) -> bool:
    """Whether one of the installation options was given."""
    return bool(args.selftest or args.install_desktop_entry or args.uninstall_desktop_entry)


def cmd_install_option(args: argparse.Namespace) -> int:
    """Run ``--selftest`` or (un)install the desktop entry."""
    if args.command is not None:
        raise UsageError(f"the installation options take no command (got '{args.command}')")
    if args.selftest:
        return cmd_selftest(debug=args.debug)
    if sys.platform != "linux":
        raise UsageError("desktop entries are Linux-only (freedesktop.org menus)")
    from resnet_gui.cli.desktop import install_desktop_entry, uninstall_desktop_entry

    try:
        if args.install_desktop_entry:
            lines = install_desktop_entry()
        elif args.uninstall_desktop_entry:
            lines = uninstall_desktop_entry()
        else:
            raise UsageError("no installation option given")
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename or ''}: {exc.strerror or exc}") from exc
    print("\n".join(lines))
    return EXIT_OK


def cmd_selftest(debug: bool = False) -> int:
    """Every step of :mod:`resnet_gui.core.selftest`, then the window, offscreen."""
    from resnet_gui.core.selftest import run_selftest
    from resnet_gui.ui.app import selftest_window

    failed = run_selftest(lambda line: print(line, flush=True),
                          extra=[("open the window", selftest_window)], debug=debug)
    if failed:
        print(f"selftest failed at step: {failed}", flush=True)
        return EXIT_SELFTEST_FAILED
    print(SELFTEST_PASSED, flush=True)
    return EXIT_OK

