"""The package's import rules, as import-linter contracts (pyproject.toml): the CLI over the UI
over the core, no Qt in the core, and no import circle in any package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports() -> str:
    exe = Path(sys.executable).with_name("lint-imports")
    found = str(exe) if exe.exists() else shutil.which("lint-imports")
    if found is None:
        pytest.fail("lint-imports is missing: pip install -e '.[test]'")
    return found


def test_import_contracts_are_kept() -> None:
    out = subprocess.run(
        [_lint_imports(), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "4 kept, 0 broken" in out.stdout


def _lint_copy_with(tmp_path: Path, module: str, line: str) -> str:
    """lint-imports on a copy of the package where ``module`` (a path under resnet_gui/core)
    gets a function importing ``line``; returns its report."""
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "resnet_gui", copy / "resnet_gui",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    target = copy / "resnet_gui" / "core" / module
    target.write_text(target.read_text(encoding="utf-8")
                      + f"\n\ndef _added() -> None:\n    {line}  # noqa: F401\n", encoding="utf-8")
    out = subprocess.run(
        [_lint_imports(), "--no-cache"], cwd=copy, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode != 0
    return out.stdout


def test_a_new_import_circle_breaks_the_contracts(tmp_path: Path) -> None:
    """The circle check is real: a copy of the package with one circle added fails it."""
    report = _lint_copy_with(tmp_path, "model/weights.py",
                             "from resnet_gui.core.model import build")
    assert "No import circles, in any package BROKEN" in report
    assert ".weights -> .build" in report


def test_use_importing_train_breaks_the_core_layers(tmp_path: Path) -> None:
    """Using a model never imports training: the layers contract catches one such import."""
    report = _lint_copy_with(tmp_path, "use/sorting.py",
                             "from resnet_gui.core.train import schedule")
    assert "The core's parts: the selftest over train | use, over data | model, over base " \
           "BROKEN" in report


def test_the_suite_sees_none_of_the_users_folders(qapp: object) -> None:
    """Keras cache, checkpoints, feature cache, desktop entries and settings all resolve inside
    the suite's sandbox (tests/conftest.py), for this process and the ones it starts."""
    from PySide6.QtCore import QSettings

    from resnet_gui.cli.desktop import data_home
    from resnet_gui.core.model.weights import keras_home
    from resnet_gui.core.train.checkpoint import checkpoint_root
    from resnet_gui.core.train.features import default_cache_dir
    from tests.conftest import SANDBOX

    settings = Path(QSettings("resnet-gui", "resnet-gui").fileName())
    for path in (keras_home(), checkpoint_root(), default_cache_dir(), data_home(), settings):
        assert path.resolve().is_relative_to(SANDBOX.resolve()), path
    child = subprocess.run(
        [sys.executable, "-c", "from resnet_gui.core.model.weights import keras_home; "
                               "print(keras_home())"],
        capture_output=True, text=True, check=True)
    assert Path(child.stdout.strip()).resolve().is_relative_to(SANDBOX.resolve())


def test_the_suite_never_downloads() -> None:
    """A weights file that is not there fails at once, without trying the network."""
    from resnet_gui.core.base.errors import WeightsUnavailableError
    from resnet_gui.core.model.weights import download_weights_file
    from tests.conftest import NO_NETWORK

    with pytest.raises(WeightsUnavailableError, match=NO_NETWORK):
        download_weights_file("resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
                              "resnet50")


BURN = ("import subprocess, sys\n"
        "def test_child():\n"
        "    subprocess.run([sys.executable, '-c', 'sum(i * i for i in range(4_000_000))'],\n"
        "                   check=True)\n"
        "def test_idle():\n"
        "    pass\n")


@pytest.mark.parametrize("processes", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_cpu_report_counts_each_tests_child_processes(pytester: pytest.Pytester,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      processes: list[str]) -> None:
    """``--cpu-durations``: a test whose child burns CPU heads the list with the child's
    seconds, an idle test shows none (in one process and through pytest-xdist's workers)."""
    pytester.makepyfile(test_burn=BURN)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    result = pytester.runpytest_subprocess("-p", "tests.cpu_report", "--cpu-durations=5",
                                           *processes)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([*(["*2 workers [[]2 items[]]*"] if processes else []),
                                 "*costliest 2 tests in CPU time*", "*CPU-s over 2 tests*"])
    rows = {line.split()[-1].split("::")[-1]: [float(x) for x in line.split()[:4]]
            for line in result.outlines if "test_burn.py::" in line}
    assert list(rows) == ["test_child", "test_idle"], result.outlines  # costliest first
    assert rows["test_child"][2] > 0.1 and rows["test_idle"][2] == 0.0, rows
    assert rows["test_child"][0] == pytest.approx(rows["test_child"][1] + rows["test_child"][2],
                                                  abs=0.11)


def test_cpu_report_is_off_unless_asked(pytester: pytest.Pytester,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile(test_burn=BURN)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    result = pytester.runpytest_subprocess("-p", "tests.cpu_report", "--junitxml=out.xml")
    result.assert_outcomes(passed=2)
    assert "CPU time" not in result.stdout.str()
    assert "cpu_seconds" not in (pytester.path / "out.xml").read_text()  # nothing recorded
