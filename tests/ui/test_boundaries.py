"""The architecture rules that keep the app fast and the core headless, checked in fresh processes."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_core_imports_without_qt() -> None:
    out = _run(
        "import sys, pkgutil, importlib, resnet_gui.core as c\n"
        "for m in pkgutil.iter_modules(c.__path__):\n"
        "    importlib.import_module('resnet_gui.core.' + m.name)\n"
        "bad = [n for n in sys.modules if n.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6')]\n"
        "assert not bad, bad\n"
        "assert 'tensorflow' not in sys.modules, 'core imported TensorFlow at module level'\n"
        "print('ok')"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_ui_and_cli_do_not_import_tensorflow() -> None:
    out = _run(
        "import sys\n"
        "import resnet_gui.cli, resnet_gui.ui.app, resnet_gui.ui.main_window\n"
        "import resnet_gui.ui.training_tab, resnet_gui.ui.inference_tab, resnet_gui.ui.workers\n"
        "assert 'PySide6' in sys.modules\n"
        "bad = [n for n in sys.modules if n.split('.')[0] in ('tensorflow', 'keras')]\n"
        "assert not bad, bad[:5]\n"
        "print('ok')"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
