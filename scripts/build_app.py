"""Build the self-contained app: a one-folder bundle and one archive to hand to a user.

    pip install -e ".[package]"
    python scripts/build_app.py            # dist/resnet-gui/resnet-gui
                                           # dist/resnet-gui-<version>-<os>-<arch>.tar.gz (.zip)

The same script runs on Linux, macOS and Windows (``.github/workflows/app.yml``). PyInstaller
freezes ``resnet_gui/__main__.py`` with everything it imports; what the app never uses is left
out (TensorBoard, test frameworks, the unused Qt modules, and by default the export extra's ONNX
converters: ``--with-export`` keeps them). Sizes and the build time are printed at the end and
recorded in docs/packaging.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = "resnet-gui"

#: Never imported by the app at run time (tools, tests, optional extras of its libraries).
EXCLUDED = [
    "tensorboard", "tensorboard_data_server", "tensorboard_plugin_profile",
    "pytest", "_pytest", "pytestqt", "IPython", "jupyter_client", "notebook", "tkinter",
    "matplotlib", "pandas", "sklearn", "skimage", "scipy", "PyInstaller", "setuptools", "pip",
    "importlinter", "grimp", "ruff", "sphinx", "docutils",
]
#: Qt modules the app does not use (PySide6's hook would otherwise follow pyqtgraph's optional
#: imports into them).
UNUSED_QT = [
    "QtQml", "QtQuick", "QtQuickWidgets", "QtQuickControls2", "QtQuickTest", "QtQuick3D",
    "QtDesigner", "QtHelp", "QtNetwork", "QtSql", "QtTest", "QtUiTools", "QtXml", "QtPdf",
    "QtPdfWidgets", "QtWebEngineCore", "QtWebEngineWidgets", "QtMultimedia", "QtCharts",
    "QtDataVisualization", "QtBluetooth", "QtPositioning", "QtLocation", "QtNfc", "QtSensors",
    "QtSerialPort", "QtWebSockets", "Qt3DCore", "QtConcurrent", "QtDBus",
]
#: Imported by name at run time, so PyInstaller cannot see them (pyqtgraph's curve drawing).
HIDDEN = ["PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets"]
#: Our hooks (scripts/pyinstaller_hooks): which packages keep their source for AutoGraph.
HOOKS = Path(__file__).resolve().parent / "pyinstaller_hooks"
#: The export extra: ONNX conversion and the runtimes that check exports (TFLite export and its
#: check need only TensorFlow).
EXPORT_EXTRA = ["tf2onnx", "onnx", "onnxruntime", "ai_edge_litert"]
#: Folders inside the bundle that nothing loads at run time (C++ headers, test data).
PRUNED = ["tensorflow/include", "tensorflow/lite/testing", "PySide6/Qt/translations"]


def platform_tag() -> str:
    """``linux-x86_64``, ``macos-arm64``, ``windows-x86_64``…"""
    system = {"darwin": "macos", "win32": "windows"}.get(sys.platform, sys.platform)
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "aarch64": "arm64"}.get(machine, machine)
    return f"{system}-{machine}"


def folder_size(path: Path) -> int:
    """Bytes in every file below ``path``."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def pyinstaller_args(dist: Path, work: Path, with_export: bool) -> list[str]:
    """The PyInstaller command line for the one-folder bundle."""
    assets = ROOT / "resnet_gui" / "assets"
    icon = assets / "icons" / "resnet-gui-256.png"
    args = [
        str(ROOT / "resnet_gui" / "__main__.py"),
        "--name", NAME, "--onedir", "--noconfirm", "--clean", "--console",
        "--distpath", str(dist), "--workpath", str(work), "--specpath", str(work),
        "--add-data", f"{assets}{os.pathsep}resnet_gui/assets",
        "--collect-submodules", "resnet_gui",
        "--additional-hooks-dir", str(HOOKS),
        "--icon", str(icon),
        "--log-level", "WARN",
    ]
    if sys.platform == "darwin":
        args += ["--osx-bundle-identifier", "org.resnet-gui.app"]
    excluded = EXCLUDED + [f"PySide6.{m}" for m in UNUSED_QT]
    if not with_export:
        excluded += EXPORT_EXTRA
    for module in excluded:
        args += ["--exclude-module", module]
    for module in HIDDEN:
        args += ["--hidden-import", module]
    return args


def missing_x_libraries() -> list[str]:
    """Linux: the system libraries Qt's X11 plugin needs that this machine lacks. PyInstaller
    copies the ones it finds into the bundle; a missing one would leave the app unable to open
    its window on a minimal system."""
    import subprocess

    import PySide6

    plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    if sys.platform != "linux" or not plugin.is_file() or shutil.which("ldd") is None:
        return []
    listing = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, check=False)
    lines = listing.stdout.splitlines()
    return sorted({line.split()[0] for line in lines if "not found" in line})


def prune(bundle: Path) -> int:
    """Delete what nothing loads at run time; returns the bytes saved."""
    internal = bundle / "_internal"
    saved = 0
    for rel in PRUNED:
        target = internal / rel
        if target.is_dir():
            saved += folder_size(target)
            shutil.rmtree(target)
    return saved


def archive(bundle: Path, version: str) -> Path:
    """One file to hand to a user: a ``.zip`` on Windows, else a ``.tar.gz`` of the folder
    (at gzip's own default level 6; shutil's level 9 took 142 s for the 1.7 GB CUDA build)."""
    base = bundle.parent / f"{NAME}-{version}-{platform_tag()}"
    if sys.platform == "win32":
        return Path(shutil.make_archive(str(base), "zip", bundle.parent, bundle.name))
    import tarfile

    path = base.with_name(base.name + ".tar.gz")
    tmp = path.with_name(path.name + ".partial")
    with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:
        tar.add(bundle, arcname=bundle.name)
    tmp.replace(path)
    return path


def cpu_tensorflow_installed() -> bool:
    """Whether this environment's TensorFlow is the CPU-only build (``tensorflow-cpu``)."""
    from importlib import metadata

    try:
        metadata.distribution("tensorflow-cpu")
    except metadata.PackageNotFoundError:
        return False
    return True


def build_requirements(extras: tuple[str, ...] = ("package",)) -> list[str]:
    """What the bundle's environment needs, read from this project's installed metadata (one
    home: pyproject.toml): the dependencies and ``extras``, with ``tensorflow-cpu`` in place of
    ``tensorflow``."""
    from importlib import metadata

    from packaging.requirements import Requirement  # PyInstaller depends on it

    requirements = []
    for line in metadata.requires("resnet-gui") or []:
        req = Requirement(line)
        wanted = [e for e in extras if req.marker and req.marker.evaluate({"extra": e})]
        if req.marker and "extra" in str(req.marker):
            if not wanted:
                continue
            req.marker = None
        if req.name.lower() == "tensorflow" and not req.extras:
            req.name = "tensorflow-cpu"
        requirements.append(str(req))
    return requirements


def cpu_build_environment(folder: Path, extras: tuple[str, ...]) -> Path:
    """A virtual environment with the CPU-only TensorFlow, this project and its ``extras``
    (remade when the requirements change); returns its Python."""
    import subprocess
    import venv

    python = folder / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")
    marker = folder / ".requirements"
    wanted = "\n".join(build_requirements(extras)) + "\n"  # as this environment reads them
    if not marker.is_file() or marker.read_text(encoding="utf-8") != wanted:
        print(f"making the build environment {folder} (CPU-only TensorFlow)", flush=True)
        venv.create(folder, with_pip=True, clear=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run(pip + ["--upgrade", "pip", "packaging"], check=True)
        # The project without its dependencies first: its fresh metadata lists them.
        subprocess.run(pip + ["--no-deps", "-e", str(ROOT)], check=True)
        listed = subprocess.run(
            [str(python), __file__, "--print-requirements", *_extra_flags(extras)],
            check=True, capture_output=True, text=True).stdout.split("\n")
        subprocess.run(pip + [r for r in listed if r.strip()], check=True)
        marker.write_text(wanted, encoding="utf-8")
    return python


def _extra_flags(extras: tuple[str, ...]) -> list[str]:
    return ["--with-export"] if "export" in extras else []


def reexec_with_cpu_tensorflow(argv: list[str], extras: tuple[str, ...]) -> int:
    """Run this script again inside ``build/venv-cpu`` (made first if needed)."""
    import subprocess

    python = cpu_build_environment(ROOT / "build" / "venv-cpu", extras)
    rest = [a for i, a in enumerate(argv) if not a.startswith("--tensorflow")
            and not (i and argv[i - 1] == "--tensorflow")]
    return subprocess.run([str(python), __file__, "--tensorflow", "installed", *rest],
                          check=False).returncode


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The script's options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dist", default=str(ROOT / "dist"), help="output folder (dist/)")
    parser.add_argument("--work", default=str(ROOT / "build" / "pyinstaller"),
                        help="PyInstaller's work folder (build/pyinstaller)")
    parser.add_argument("--with-export", action="store_true",
                        help="include the export extra (ONNX export, onnxruntime, LiteRT)")
    parser.add_argument("--no-archive", action="store_true", help="build the folder only")
    parser.add_argument(
        "--tensorflow", choices=("cpu", "installed"),
        default="cpu" if sys.platform == "linux" else "installed",
        help="cpu (Linux default): build in build/venv-cpu with tensorflow-cpu, 0.4 GB smaller "
             "than the CUDA-capable wheel; installed: this environment's TensorFlow (the "
             "default on macOS and Windows, whose wheels are CPU-only already)")
    parser.add_argument("--print-requirements", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Build the bundle and the archive; print their sizes and the build time."""
    given = list(argv if argv is not None else sys.argv[1:])
    args = parse_args(given)
    extras = ("package", "export") if args.with_export else ("package",)
    if args.print_requirements:
        print("\n".join(build_requirements(extras)))
        return 0
    if args.tensorflow == "cpu" and not cpu_tensorflow_installed():
        return reexec_with_cpu_tensorflow(given, extras)
    try:
        import PyInstaller.__main__ as pyinstaller
    except ImportError:
        print('build_app: PyInstaller is missing: pip install -e ".[package]"', file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    from resnet_gui import __version__

    missing = missing_x_libraries()
    if missing:
        print("build_app: Qt's X11 plugin needs libraries this machine lacks, so the bundle "
              f"could not carry them: {', '.join(missing)}. Install them first (Debian/Ubuntu: "
              "the apt-get line in README.md).", file=sys.stderr)
        return 2
    dist, work = Path(args.dist).resolve(), Path(args.work).resolve()
    started = time.perf_counter()
    pyinstaller.run(pyinstaller_args(dist, work, args.with_export))
    bundle = dist / NAME
    saved = prune(bundle)
    built = time.perf_counter() - started
    print(f"bundle:  {bundle}  {folder_size(bundle) / 1e6:,.0f} MB "
          f"({saved / 1e6:,.0f} MB pruned), built in {built:.0f} s")
    if not args.no_archive:
        started = time.perf_counter()
        path = archive(bundle, __version__)
        print(f"archive: {path}  {path.stat().st_size / 1e6:,.0f} MB, "
              f"written in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
