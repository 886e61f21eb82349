"""The command line (``resnet-gui``); see :mod:`resnet_gui.cli.main`."""

from resnet_gui.cli.main import _normalise_argv, main, main_gui
from resnet_gui.cli.parser import build_parser

__all__ = ["_normalise_argv", "build_parser", "main", "main_gui"]
