"""What a static tool cannot see: which modules are loaded at run time, checked in fresh processes.

The import rules themselves (layers, no Qt in the core, no import circles) are import-linter
contracts in pyproject.toml, checked by tests/test_structure.py and by CI's ``lint-imports``.
"""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_core_modules_load_without_tensorflow() -> None:
    out = _run(
        "import sys, pkgutil, importlib, resnet_gui.core as c\n"
        "for m in pkgutil.iter_modules(c.__path__):\n"
        "    importlib.import_module('resnet_gui.core.' + m.name)\n"
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


def test_qt_binding_keeps_none_alive() -> None:
    """PySide6 6.12.0 under Python 3.11 decrefs None on each void call, so the app aborts
    after enough paint calls ("none_dealloc"); pyproject.toml excludes it. This catches any
    binding that does it again."""
    out = _run(
        "import sys\n"
        "from PySide6.QtGui import QGuiApplication, QImage, QPainter\n"
        "app = QGuiApplication(['x', '-platform', 'offscreen'])\n"
        "img = QImage(8, 8, QImage.Format.Format_RGB32)\n"
        "p = QPainter(img)\n"
        "before = sys.getrefcount(None)\n"
        "for _ in range(2000):\n"
        "    p.drawLine(0, 1, 5, 1)\n"
        "lost = before - sys.getrefcount(None)\n"
        "p.end()\n"
        "print(lost)"
    )
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) < 50
