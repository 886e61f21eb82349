"""Shared fixtures: real image data written as class folders, and a trained model.

Everything is small (32-64 px) and built from images that packages ship (sklearn's handwritten
digits, skimage's photos), so the suite needs no network.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# TensorFlow in the app's environment whichever test imports it first: with oneDNN on (a test
# that imported TensorFlow directly came first), Grad-CAM's gradient crashed a test process
# (SIGSEGV in conv2d_backprop_filter) in 3 of 4 runs of `-m "not slow"` on an AVX-512/AMX Xeon.
from resnet_gui.core.base.tfsetup import configure_environment  # noqa: E402

configure_environment()

import atexit  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402


def _memory_backed_folder(room: int = 2 << 30) -> str | None:
    """Linux's RAM-backed ``/dev/shm`` when it has ``room`` bytes free, else None.

    The suite's files live there when it can: on a disk, every epoch's checkpoint write and the
    deletion of the one before stalled training for seconds (ext4 mounted with ``discard`` on a
    virtual disk: epoch boundaries of the default recipe took 4.6-5.5 s instead of 1.3-2.2 s,
    an 8-epoch run 87-133 s instead of 79-82 s). What is written is the same either way.
    """
    shm = Path("/dev/shm")
    try:
        return str(shm) if shm.is_dir() and shutil.disk_usage(shm).free >= room and \
            os.access(shm, os.W_OK) else None
    except OSError:
        return None


def _sweep_left_behind(folder: str | None) -> None:
    """Remove the folders of earlier runs that were killed before their clean-up (they would
    hold memory until a reboot). Each is named after its process (``-<pid>-``): only those
    whose process has ended go, so a suite running beside this one keeps its own."""
    if folder is None:
        return
    import re

    for entry in Path(folder).glob("resnet-gui-*"):
        match = re.fullmatch(r"resnet-gui-(?:tests|pytest)-(\d+)-.*", entry.name)
        if match is None:
            continue
        try:
            os.kill(int(match[1]), 0)
        except ProcessLookupError:
            shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            pass  # alive (another user's): not ours to remove


FAST_TMP = _memory_backed_folder()
#: Hermetic: the suite (and every process it starts) sees none of the user's folders: not the
#: Keras cache (ImageNet weights there would change what "auto" trains), the feature cache,
#: checkpoints, settings (QSettings lives under XDG_CONFIG_HOME) or desktop entries. Set before
#: Keras or Qt is imported: both read these once.
SANDBOX = Path(tempfile.mkdtemp(prefix=f"resnet-gui-tests-{os.getpid()}-", dir=FAST_TMP))
SANDBOXED = {"KERAS_HOME": "keras", "RESNET_GUI_DATA": "data", "RESNET_GUI_CACHE": "cache",
             "XDG_CONFIG_HOME": "config", "XDG_DATA_HOME": "share", "XDG_CACHE_HOME": "xdg-cache"}
for _name, _sub in SANDBOXED.items():
    os.environ[_name] = str(SANDBOX / _sub)
atexit.register(shutil.rmtree, SANDBOX, ignore_errors=True)
#: And the network is never tried: weights downloads fail at once, as after a failed attempt.
#: Set here too, not only in the fixture below: session fixtures (a trained model) are made
#: before function-scoped ones.
NO_NETWORK = "the test suite never uses the network"
os.environ["RESNET_GUI_WEIGHTS_OFFLINE"] = NO_NETWORK  # weights.OFFLINE_ENV (no import yet)

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

#: ``pytest --cpu-durations=N``: the tests that cost the most CPU time, child processes included
#: (and pytester, to test it).
pytest_plugins = ["tests.cpu_report", "pytester"]


def write_digits(root: Path, per_class: int, offset: int = 0, size: int = 32) -> Path:
    """Write sklearn's handwritten digits (real, 8x8, 10 classes) as PNG class folders."""
    from sklearn.datasets import load_digits

    d = load_digits()
    for c in range(10):
        idx = np.flatnonzero(d.target == c)[offset : offset + per_class]
        folder = root / str(c)
        folder.mkdir(parents=True, exist_ok=True)
        for i in idx:
            a = (d.images[i] * (255 / 16)).astype(np.uint8)
            Image.fromarray(a).resize((size, size), Image.Resampling.BILINEAR).save(
                folder / f"{i}.png"
            )
    return root


def cli_without_tensorflow(*argv: str) -> subprocess.CompletedProcess[str]:
    """``resnet-gui ARGV`` in a fresh process that fails (status 1, a note on stderr) if it
    imports TensorFlow: for what must be said in milliseconds, not after TensorFlow's seconds."""
    code = ("import sys\nfrom resnet_gui.cli import main\n"
            "status = main(sys.argv[1:])\n"
            "assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'\n"
            "sys.exit(status)\n")
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          timeout=60)


def photo(size: int = 64, which: str = "china") -> Image.Image:
    """A real photo (sklearn's sample images), resized to ``size`` square."""
    from sklearn.datasets import load_sample_image

    return Image.fromarray(load_sample_image(f"{which}.jpg")).resize((size, size))


def write_tiny_classes(root: Path, n: int = 6, size: int = 32) -> Path:
    """Two visually distinct classes of real photo crops (for quick mechanical tests)."""
    from sklearn.datasets import load_sample_image

    rng = np.random.default_rng(0)
    for name in ("china", "flower"):
        img = load_sample_image(f"{name}.jpg")
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            s = int(rng.integers(120, 300))
            y = int(rng.integers(0, img.shape[0] - s))
            x = int(rng.integers(0, img.shape[1] - s))
            Image.fromarray(img[y : y + s, x : x + s]).resize((size, size)).save(
                folder / f"{name}_{i}.jpg", quality=92
            )
    return root


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts offline, as if a download had failed: weights are never fetched. A test
    of the first attempt deletes the variable and stands in for Keras' download itself."""
    from resnet_gui.core.model.weights import OFFLINE_ENV

    monkeypatch.setenv(OFFLINE_ENV, NO_NETWORK)


@pytest.fixture(scope="session")
def digits_train(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 digits per class (400 images): training data."""
    return write_digits(tmp_path_factory.mktemp("digits") / "train", 40, 0)


@pytest.fixture(scope="session")
def digits_heldout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another 60 digits per class, never seen in training."""
    return write_digits(tmp_path_factory.mktemp("digits") / "heldout", 60, 40)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two classes of six 32 px photo crops each."""
    return write_tiny_classes(tmp_path_factory.mktemp("tiny") / "data")


@pytest.fixture(scope="session")
def trained_model(digits_train: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained with the CLI's default recipe (no flags) on the digits."""
    from resnet_gui.cli import main

    out = tmp_path_factory.mktemp("model") / "digits.keras"
    status = main(["train", str(digits_train), "--out", str(out)])
    assert status == 0
    return out


#: Small trained models committed beside the tests (``python -m tests.data.make_models``
#: rebuilds them): tests that need *a* model skip a training each. A file that does not load
#: (another Keras) is trained again here, with the same recipe.
MODELS = Path(__file__).parent / "data"


def _train_and_save(data: Path, out: Path, **settings: object) -> Path:
    """Train on ``data`` with ``settings`` (``TrainConfig`` fields) and save to ``out``."""
    from resnet_gui.core.base.config import TrainConfig
    from resnet_gui.core.train.training import train

    return train(TrainConfig(str(data), **settings)).save(out)  # type: ignore[arg-type]


def train_tiny_model(data: Path, out: Path) -> Path:
    """A small model trained for one epoch (mechanics only, not accuracy)."""
    return _train_and_save(data, out, epochs=1, batch_size=4, width=8, augment="none",
                           weights="none")


def train_sure_model(data: Path, out: Path) -> Path:
    """A model that has learnt the two tiny classes: it is sure of its own training photos."""
    return _train_and_save(data, out, arch="resnet18", weights="none", epochs=12, batch_size=4,
                           width=8, augment="none", patience=0)


def train_digits_model(data: Path, out: Path) -> Path:
    """A small model that has learnt the digits (far above chance on ``digits_heldout``): for
    tests that need *a* good digits model, not the default recipe's (``trained_model``)."""
    # the default recipe at half its width
    return _train_and_save(data, out, arch="resnet18", weights="none", width=16, seed=1,
                           checkpoints=False)


def committed_model(name: str, make: object, folder: Path) -> Path:
    """A copy of the committed ``tests/data/<name>`` (tests may change their copy), or, when it
    does not load here, one trained by ``make(out)``."""
    from resnet_gui.core.base.errors import ResnetGuiError
    from resnet_gui.core.use.inference import Classifier

    out = folder / name
    try:
        shutil.copyfile(MODELS / name, out)
        Classifier.load(out)
        return out
    except (OSError, ResnetGuiError) as exc:
        import warnings

        warnings.warn(f"tests/data/{name} unusable here ({exc}): training it", stacklevel=2)
        out.unlink(missing_ok=True)
        return make(out)  # type: ignore[operator]


@pytest.fixture(scope="session")
def tiny_model(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small model trained for one epoch on ``tiny_data`` (mechanics only, not accuracy)."""
    return committed_model("tiny.keras", lambda out: train_tiny_model(tiny_data, out),
                           tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="session")
def digits_model(digits_train: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small model that has learnt the digits of ``digits_train``."""
    return committed_model("digits.keras", lambda out: train_digits_model(digits_train, out),
                           tmp_path_factory.mktemp("digits_model"))


@pytest.fixture(scope="session")
def sure_model(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model that has learnt the two tiny classes: it is sure of its own training photos."""
    return committed_model("sure.keras", lambda out: train_sure_model(tiny_data, out),
                           tmp_path_factory.mktemp("sure_model"))


@pytest.hookimpl(tryfirst=True)  # before pytest reads the option
def pytest_configure(config: pytest.Config) -> None:
    """Tests' temporary folders (``tmp_path``) in the memory-backed folder too, removed at the
    end (so a failed test's files are gone: pass ``--basetemp DIR`` to keep them); pytest-xdist
    gives each test process a subfolder. Not with ``--bundle``: the app bundle and its build
    take gigabytes, and ``/dev/shm`` may forbid running programs from it."""
    if config.option.basetemp is not None or hasattr(config, "workerinput"):
        return
    _sweep_left_behind(FAST_TMP)
    if FAST_TMP and not config.getoption("--bundle"):
        config.option.basetemp = tempfile.mkdtemp(prefix=f"resnet-gui-pytest-{os.getpid()}-",
                                                  dir=FAST_TMP)
        atexit.register(shutil.rmtree, config.option.basetemp, ignore_errors=True)


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--bundle``: also run the tests of the built app (tests/test_bundle.py, minutes)."""
    parser.addoption("--bundle", action="store_true",
                     help="build the app bundle (or use $RESNET_GUI_BUNDLE) and test it")


#: Fixtures that train a model (session- or module-scoped): the tests that use one run in the
#: same test process (pytest-xdist's ``--dist loadgroup``), so it is made once, not once per
#: process. ``stripes`` (test_explain_export.py) was trained in both processes: 49 s and 36 s.
SHARED_EXPENSIVE = ("trained_model", "stripes")


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests of an expensive fixture share a test process; tests marked ``bundle`` are
    skipped unless ``--bundle`` is given."""
    for item in items:
        shared = [name for name in SHARED_EXPENSIVE if name in getattr(item, "fixturenames", ())]
        if shared:
            item.add_marker(pytest.mark.xdist_group(shared[0]))
    if config.getoption("--bundle"):
        return
    skip = pytest.mark.skip(reason="tests the built app: run with --bundle (docs/packaging.md)")
    for item in items:
        if "bundle" in item.keywords:
            item.add_marker(skip)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Say so when pytest-xdist ignores the groups above (it did with pytest 9.2, whose node
    ids it can no longer tag: pytest-xdist issue 1386): the model would be trained twice."""
    if getattr(session.config.option, "loadgroup", False) and any(
            item.get_closest_marker("xdist_group") and "@" not in item.nodeid
            for item in session.items):
        import warnings

        warnings.warn("pytest-xdist's --dist loadgroup has no effect with this pytest: tests "
                      "that share an expensive fixture may make it once per process", stacklevel=1)
