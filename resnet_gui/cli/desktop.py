"""``resnet-gui --install-desktop-entry``: the app in the desktop's menus, with its icon, and
``.keras`` files that open with it (Linux: the freedesktop.org menu, icon and MIME specs).

Only the user's own folders are written (``$XDG_DATA_HOME``, usually ``~/.local/share``); the
uninstall removes exactly what the install wrote.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from resnet_gui.core.base.assets import APP_ID, ICON_SIZES, icon_file
from resnet_gui.core.base.atomic import replacing

KERAS_MIME = "application/x-keras-model"

_MIME_XML = f"""<?xml version="1.0" encoding="UTF-8"?>
<mime-info xmlns="http://www.freedesktop.org/standards/shared-mime-info">
  <mime-type type="{KERAS_MIME}">
    <comment>Keras model</comment>
    <sub-class-of type="application/zip"/>
    <glob pattern="*.keras"/>
  </mime-type>
</mime-info>
"""


def data_home() -> Path:
    """The user's XDG data folder (``$XDG_DATA_HOME`` or ``~/.local/share``)."""
    from platformdirs import user_data_path

    return user_data_path()


def launcher_command() -> list[str]:
    """The command that opens the app: the bundle's executable, the venv's ``resnet-gui-app``
    (no console), or this Python running the package."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    beside = Path(sys.executable).parent / "resnet-gui-app"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("resnet-gui-app")
    if found:
        return [found]
    return [sys.executable, "-m", "resnet_gui"]


def desktop_entry(command: list[str]) -> str:
    """The text of ``resnet-gui.desktop`` that runs ``command`` with the chosen files."""
    exec_line = " ".join(_quote(part) for part in command)
    return "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Name=resnet-gui",
        "GenericName=Image Classifier Trainer",
        "Comment=Train and use ResNet image classifiers on your own photos",
        f"Exec={exec_line} %F",
        f"Icon={APP_ID}",
        "Terminal=false",
        "Categories=Graphics;Science;ArtificialIntelligence;",
        "Keywords=image;classifier;machine learning;ResNet;Keras;",
        f"MimeType={KERAS_MIME};",
        f"StartupWMClass={APP_ID}",
        "",
    ])


def _quote(part: str) -> str:
    """An argument of ``Exec=`` as the Desktop Entry spec asks: ``%`` doubled (field codes);
    unless plain, double-quoted with ``"``, backquote, ``$`` and backslash backslash-escaped,
    and then every backslash doubled again (the spec's string escapes come first on reading)."""
    part = part.replace("%", "%%")
    if part and all(c.isalnum() or c in "/._-+%" for c in part):
        return part
    quoted = "".join("\\" + c if c in '"`$\\' else c for c in part)
    return '"' + quoted.replace("\\", "\\\\") + '"'


def entry_files(home: Path | None = None) -> dict[Path, Path | str]:
    """Every file the install writes: target -> source file (icons) or text."""
    home = home or data_home()
    files: dict[Path, Path | str] = {
        home / "applications" / f"{APP_ID}.desktop": desktop_entry(launcher_command()),
        home / "mime" / "packages" / f"{APP_ID}.xml": _MIME_XML,
        home / "icons" / "hicolor" / "scalable" / "apps" / f"{APP_ID}.svg": icon_file(),
    }
    for size in ICON_SIZES:
        target = home / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        files[target] = icon_file(size)
    return files


def install_desktop_entry(home: Path | None = None) -> list[str]:
    """Write the menu entry, the icons and the ``.keras`` MIME type; returns lines to print.

    Raises:
        OSError: a folder cannot be written (nothing half-written is left behind).
    """
    home = home or data_home()
    written: list[Path] = []
    try:
        for target, source in entry_files(home).items():
            target.parent.mkdir(parents=True, exist_ok=True)
            with replacing(target) as tmp:
                if isinstance(source, Path):
                    shutil.copyfile(source, tmp)
                else:
                    tmp.write_text(source, encoding="utf-8")
            written.append(target)
    except OSError:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    lines = [f"wrote {path}" for path in written]
    return lines + _refresh_caches(home)


def uninstall_desktop_entry(home: Path | None = None) -> list[str]:
    """Remove what :func:`install_desktop_entry` wrote; returns lines to print."""
    home = home or data_home()
    lines = []
    for target in entry_files(home):
        if target.exists():
            target.unlink()
            lines.append(f"removed {target}")
    if not lines:
        return ["no desktop entry was installed"]
    return lines + _refresh_caches(home)


def _refresh_caches(home: Path) -> list[str]:
    """Ask the desktop to re-read menus and MIME types (where its tools are installed)."""
    lines = []
    for tool, folder in (("update-mime-database", home / "mime"),
                         ("update-desktop-database", home / "applications")):
        exe = shutil.which(tool)
        if exe is None or not folder.is_dir():
            lines.append(f"({tool} not found: the desktop picks the change up at next login)")
            continue
        done = subprocess.run([exe, str(folder)], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            lines.append(f"({tool} failed: {done.stderr.strip() or done.returncode})")
    return lines

