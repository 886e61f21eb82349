"""The built app, run as a user without Python would run it (``pytest --bundle``).

The bundle is built with ``scripts/build_app.py`` (minutes), or taken from ``$RESNET_GUI_BUNDLE``
(a ``dist/resnet-gui`` folder). Every run uses an empty environment (``env -i``): a fresh
``HOME``, no Python, venv or pip on ``PATH``, no network needed. (The system's own libraries,
such as libc and libGL, are still this machine's.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_digits

pytestmark = [pytest.mark.bundle, pytest.mark.xdist_group("bundle"),  # one build, one process
              pytest.mark.skipif(sys.platform == "win32", reason="env -i and Xvfb are POSIX")]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle's executable."""
    given = os.environ.get("RESNET_GUI_BUNDLE")
    if given:
        folder = Path(given).resolve()
    else:
        dist = tmp_path_factory.mktemp("dist")
        subprocess.run([sys.executable, str(ROOT / "scripts" / "build_app.py"), "--dist",
                        str(dist), "--work", str(tmp_path_factory.mktemp("work")),
                        "--no-archive"], check=True)
        folder = dist / "resnet-gui"
    exe = folder / "resnet-gui"
    assert exe.is_file(), f"no executable at {exe}"
    return exe


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An empty environment: a fresh HOME and a PATH that holds nothing."""
    home = tmp_path_factory.mktemp("home")
    empty_bin = tmp_path_factory.mktemp("bin")
    return {"HOME": str(home), "PATH": str(empty_bin), "LANG": "C.UTF-8",
            "TMPDIR": str(tmp_path_factory.mktemp("tmp"))}


def run_bare(env: dict[str, str], *argv: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """``env -i`` + ``env`` + ``argv``, output captured."""
    pairs = [f"{k}={v}" for k, v in env.items()]
    return subprocess.run(["/usr/bin/env", "-i", *pairs, *argv], capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_bundle_passes_its_selftest(bundle: Path, bare: dict[str, str]) -> None:
    done = run_bare(bare, str(bundle), "--selftest")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().splitlines()[-1] == "selftest passed"


def test_bundle_trains_and_predicts_on_real_images(bundle: Path, bare: dict[str, str],
                                                   tmp_path: Path) -> None:
    """Handwritten digits: trained on 30 per class, tested on 10 others per class."""
    train = write_digits(tmp_path / "train", 30, 0)
    heldout = write_digits(tmp_path / "heldout", 10, 60)
    model = tmp_path / "digits.keras"
    done = run_bare(bare, str(bundle), "train", str(train), "--out", str(model),
                    "--arch", "resnet18", "--epochs", "8", "--seed", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert model.is_file()
    done = run_bare(bare, str(bundle), "evaluate", str(model), str(heldout), "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    import json

    accuracy = json.loads(done.stdout)["accuracy"]
    print(f"held-out accuracy of the bundle's model: {accuracy:.3f}")
    assert accuracy > 0.6, accuracy  # chance is 0.1
    done = run_bare(bare, str(bundle), "predict", str(model), str(heldout), "--format", "json")
    assert done.returncode == 0, done.stderr
    predictions = json.loads(done.stdout)
    assert len(predictions) == 100
    right = sum(p["predictions"][0]["label"] == Path(p["path"]).parent.name for p in predictions)
    assert right / 100 == pytest.approx(accuracy, abs=0.011)  # the same model, the same answers


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs xvfb-run (apt install xvfb)")
def test_bundle_opens_its_window_on_an_x_display(bundle: Path, bare: dict[str, str]) -> None:
    env = dict(bare, PATH="/usr/bin:/bin",  # for xvfb-run's own tools only
               RESNET_GUI_REPORT_STARTUP="1", RESNET_GUI_EXIT_AFTER_SHOW="1")
    done = run_bare(env, shutil.which("xvfb-run") or "xvfb-run", "-a", str(bundle), "--demo",
                    timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "window shown after" in done.stdout
