"""Atomic writes: one naming rule for temporary files and one rule for sweeping the ones a
killed process left behind.

A file is written as ``.<stem>.<pid>.tmp<suffix>`` beside its target, then renamed over it, so
a reader sees the old file or the new one, never half of one. A process killed mid-write leaves
its temporary file; whoever next writes there (or counts the folder) removes it once no process
with that pid is alive. Model saves (``model.files``), the feature cache, exports and their
sidecars, sorting's copies and the desktop entry all write through here.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from resnet_gui.core.base.errors import InputError, ModelFileError

_TEMPORARY = re.compile(r"^\.(?P<stem>.+)\.(?P<pid>\d+)\.tmp(?P<suffix>(\.[^.]+)*)$")


def temporary_path(target: Path, suffix: str | None = None) -> Path:
    """Where this process writes ``target`` before renaming it (hidden, same folder and suffix:
    Keras and NumPy want their suffixes; ``suffix`` replaces it, e.g. in lower case)."""
    return target.with_name(f".{target.stem}.{os.getpid()}.tmp"
                            f"{target.suffix if suffix is None else suffix}")


@contextlib.contextmanager
def replacing(target: Path, suffix: str | None = None) -> Iterator[Path]:
    """A temporary path beside ``target`` to write (a file or a folder; its suffix: see
    :func:`temporary_path`); when the block ends without an error it takes ``target``'s place
    (a folder: :func:`replace_folder`), otherwise it is deleted. Nothing half-written is ever at
    ``target``."""
    tmp = temporary_path(target, suffix)
    try:
        yield tmp
        if tmp.is_dir():
            replace_folder(tmp, target)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


def write_text(target: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    with replacing(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def replace_folder(new: Path, target: Path) -> None:
    """Put folder ``new`` at ``target``; a folder already there goes only after the rename
    (if the rename fails, it is put back)."""
    if not target.exists():
        os.replace(new, target)
        return
    old = target.with_name(f".{target.name}.{os.getpid()}.old")
    os.replace(target, old)
    try:
        os.replace(new, target)
    except OSError:
        os.replace(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


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


def try_writing_in(folder: Path) -> None:
    """Create ``folder`` if missing, then really create and remove a file in it: permission bits
    alone do not say (root ignores them; network and read-only mounts refuse anyway).

    Raises:
        OSError: the folder cannot be made or written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / f".write-test.{os.getpid()}"
    probe.write_bytes(b"")
    probe.unlink()


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Check that a file can be written at ``path`` (its folder is created if missing).

    A file is really created and removed: permission bits alone do not say (root ignores
    them, network and read-only mounts refuse anyway).

    Raises:
        ModelFileError: with the reason, before any long work begins.
    """
    target = Path(path).expanduser()
    try:
        try_writing_in(target.parent)
    except OSError as exc:
        raise ModelFileError(
            f"cannot write {target}: {exc.strerror or exc} (checked before training)"
        ) from exc
    return target


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def free_names(folder: Path, name: str) -> Iterator[Path]:
    """``folder/name``, then ``name (2)``, ``name (3)``...: the names a copy may take, in order
    (the first that does not exist is free)."""
    stem, suffix = os.path.splitext(name)
    yield folder / name
    for k in range(2, 100_000):
        yield folder / f"{stem} ({k}){suffix}"


def copy_into(source: Path, folder: Path) -> Path:
    """Copy ``source`` into ``folder`` under a free name (:func:`free_names`), never replacing a
    file: written under a temporary name, flushed to disk, then linked (or, without hard links,
    created exclusively). Returns the copy's path.

    Raises:
        InputError: no free name.
        OSError: the copy failed (nothing is left behind).
    """
    folder.mkdir(parents=True, exist_ok=True)
    partial = temporary_path(folder / source.name)
    try:
        with source.open("rb") as src, partial.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
        shutil.copystat(source, partial)
        for cand in free_names(folder, source.name):
            try:
                os.link(partial, cand)  # fails if cand exists: never overwrites
                return cand
            except FileExistsError:
                continue
            except OSError:  # no hard links here (FAT, exFAT, some shares)
                made = _create_new(cand, partial)
                if made:
                    return cand
        raise InputError(f"no free name for {source.name} in {folder}")
    finally:
        if partial.exists():
            partial.unlink()


def _create_new(target: Path, partial: Path) -> bool:
    """Copy ``partial`` to ``target`` only if ``target`` does not exist (O_EXCL)."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    try:
        with os.fdopen(fd, "wb") as dst, partial.open("rb") as src:
            shutil.copyfileobj(src, dst, 1 << 20)
            dst.flush()
            os.fsync(dst.fileno())
        shutil.copystat(partial, target)
    except BaseException:
        target.unlink(missing_ok=True)  # never leave a half-written final name
        raise
    return True


def drop_if_same(source: Path, copy: Path) -> bool:
    """Delete ``source`` if ``copy`` holds the same bytes; True when deleted."""
    try:
        if source.stat().st_size == copy.stat().st_size and file_digest(source) == file_digest(
            copy
        ):
            source.unlink()
            return True
    except OSError:
        pass
    return False
