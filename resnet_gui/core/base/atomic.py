"""Atomic writes: one naming rule for temporary files and one rule for sweeping the ones a
killed process left behind.

A file is written as ``.<stem>.<pid>.tmp<suffix>`` beside its target, then renamed over it, so
a reader sees the old file or the new one, never half of one. A process killed mid-write leaves
its temporary file; whoever next writes there (or counts the folder) removes it once no process
with that pid is alive. Model saves (``model.files``) and the feature cache use it.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from resnet_gui.core.base.errors import ModelFileError

_TEMPORARY = re.compile(r"^\.(?P<stem>.+)\.(?P<pid>\d+)\.tmp(?P<suffix>(\.[^.]+)*)$")


def temporary_path(target: Path) -> Path:
    """Where this process writes ``target`` before renaming it (hidden, same folder and suffix:
    Keras and NumPy want their suffixes)."""
    return target.with_name(f".{target.stem}.{os.getpid()}.tmp{target.suffix}")


def _alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists (another user's counts as alive)."""
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # there, signal 0 is CTRL_C_EVENT: ask the kernel instead
        return _alive_on_windows(pid)
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _alive_on_windows(pid: int) -> bool:
    """``OpenProcess`` + ``GetExitCodeProcess``; a process we may not open is alive."""
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    query_limited_information, still_active, access_denied = 0x1000, 259, 5
    handle = kernel32.OpenProcess(query_limited_information, False, pid)
    if not handle:
        return ctypes.get_last_error() == access_denied  # type: ignore[attr-defined]
    try:
        code = ctypes.c_ulong()
        ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        return not ok or code.value == still_active
    finally:
        kernel32.CloseHandle(handle)


def leftovers(folder: Path, target: Path | None = None, recursive: bool = False) -> Iterator[Path]:
    """Temporary files under ``folder`` whose writer is gone (of ``target`` only, if given)."""
    if not folder.is_dir():
        return
    for path in folder.rglob(".*.tmp*") if recursive else folder.glob(".*.tmp*"):
        match = _TEMPORARY.match(path.name)
        if match is None or not path.is_file():
            continue
        if target is not None and (match["stem"], match["suffix"]) != (target.stem,
                                                                          target.suffix):
            continue
        if not _alive(int(match["pid"])):
            yield path


def sweep(folder: Path, target: Path | None = None, recursive: bool = False) -> int:
    """Delete :func:`leftovers`; returns how many files went."""
    removed = 0
    for path in list(leftovers(folder, target, recursive)):
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Check that a file can be written at ``path`` (its folder is created if missing).

    A file is really created and removed: permission bits alone do not say (root ignores
    them, network and read-only mounts refuse anyway).

    Raises:
        ModelFileError: with the reason, before any long work begins.
    """
    target = Path(path).expanduser()
    probe = target.with_name(f".{target.name}.{os.getpid()}.write-test")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ModelFileError(
            f"cannot write {target}: {exc.strerror or exc} (checked before training)"
        ) from exc
    return target
