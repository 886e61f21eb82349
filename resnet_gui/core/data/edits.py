"""Fix labels and grow a data set in place, losing nothing, with undo that survives a restart.

Every change the app makes to a data set folder ``DATA`` goes through :class:`DataSetEditor`:

- :meth:`~DataSetEditor.move_to_class`: images of the data set move to ``DATA/<class>/`` (a new
  class folder is made when needed);
- :meth:`~DataSetEditor.add_copies`: images from elsewhere are copied into ``DATA/<class>/``;
- :meth:`~DataSetEditor.file_into_class`: both at once, one action (one undo step) for a
  selection that mixes images of the data set and images from elsewhere;
- :meth:`~DataSetEditor.remove`: images move to ``DATA/_removed/<class>/``, which the scan
  skips; nothing is ever deleted;
- :meth:`~DataSetEditor.undo`: the last action not yet undone is reversed, also after a restart.

Nothing is lost or overwritten: a name that is taken gets `` (2)``; a move is a hard link, then
the old name's removal (or, without hard links, a verified copy first); a copy is written under
a temporary name, flushed, then linked into place. Each action is appended to
``DATA/.resnet-gui/journal.jsonl`` before any file is touched (``begin``, with every source and
destination) and again when done (``done``). Opening a data set finishes an action a crash cut
short: a file found under both names keeps only the new one (same bytes checked), so each file
ends whole in one place.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from resnet_gui.core.base.atomic import copy_into, file_digest, free_names, sweep, try_writing_in
from resnet_gui.core.base.errors import InputError
from resnet_gui.core.data.dataset import REMOVED_FOLDER
from resnet_gui.core.data.images import is_hidden

#: The journal, inside the data set's hidden folder.
JOURNAL = Path(".resnet-gui") / "journal.jsonl"

#: The kinds of action: a change of class, copies from elsewhere, both together ("file"),
#: removal, and the reversal of an earlier action.
KINDS = ("move", "add", "file", "remove", "undo")


@dataclass
class Action:
    """One user action: its files as (from, to) pairs, done together and undone together."""

    id: int
    kind: str  # one of KINDS
    files: list[tuple[str, str]] = field(default_factory=list)
    target: str = ""  # the class, for "move", "add" and "file"
    undoes: int | None = None  # for "undo": the action reversed
    copies: list[bool] | None = None  # for "file": per file, copied (True) or moved

    def copied(self, i: int) -> bool:
        """Whether file ``i`` was copied (its original stays where it was) rather than moved."""
        return self.copies[i] if self.copies is not None else self.kind == "add"

    def describe(self) -> str:
        """One line for a menu or a status bar, e.g. "move 3 images to 'cat'"."""
        n = len(self.files)
        what = _images(n)
        added = sum(self.copies or ())
        kind = self.kind
        if kind == "file" and added in (0, n):  # a crash left one kind of file
            kind = "add" if added else "move"
        return {"move": f"move {what} to '{self.target}'",
                "add": f"add {what} to '{self.target}'",
                "file": f"move {_images(n - added)} and add {_images(added)} to "
                        f"'{self.target}'",
                "remove": f"remove {what}",
                "undo": f"undo ({what})"}[kind]


class DataSetEditor:
    """The edits of one data set folder (see the module docstring).

    Raises (constructor):
        InputError: the folder is missing or cannot be written (said before anything is
            touched).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        if not self.root.is_dir():
            raise InputError(f"data set folder not found: {self.root}")
        self.journal = self.root / JOURNAL
        try:
            try_writing_in(self.journal.parent)
        except OSError as exc:
            raise InputError(f"cannot change {self.root}: {exc.strerror or exc} (nothing was "
                             "moved)") from exc
        self.actions = self._read()
        self.recover()

    # --- the actions

    def move_to_class(self, paths: Iterable[str | os.PathLike[str]], name: str) -> Action:
        """Move images of this data set into class ``name`` (made if new). Images already
        there are left as they are.

        Raises:
            InputError: a bad class name, or a path outside the data set's class folders.
        """
        return self.file_into_class(paths, (), name)

    def add_copies(self, paths: Iterable[str | os.PathLike[str]], name: str, *,
                   move: bool = False) -> Action:
        """Copy images from anywhere into class ``name`` (made if new); the originals stay
        (with ``move``: they go, once their copy is verified; undo brings them back).

        Raises:
            InputError: a bad class name, or a path that is not a file.
        """
        return self.file_into_class((), paths, name, move=move)

    def file_into_class(self, inside: Iterable[str | os.PathLike[str]],
                        outside: Iterable[str | os.PathLike[str]], name: str, *,
                        move: bool = False) -> Action:
        """Move images of this data set (``inside``; those already in ``name`` stay) and copy
        images from elsewhere (``outside``; with ``move``, move them) into class ``name``
        (made if new), as one action: one undo step takes them all back.

        Returns:
            The action: a "move" when every file moved (``move``, or no ``outside``), an
            "add" when every file was copied, else a "file" with per-file ``copies``.

        Raises:
            InputError: a bad class name, a path of ``inside`` outside the data set's class
                folders, or a path of ``outside`` that is not a file.
        """
        folder = self.root / check_class_name(name)
        moved = [p for p in map(self._inside, inside) if p.parent != folder]
        added = _files(outside)
        pairs = self._plan(moved + added, lambda _p: folder)
        if move or not added:
            return self._run("move", pairs, target=name)
        if not moved:
            return self._run("add", pairs, target=name)
        return self._run("file", pairs, target=name,
                         copies=[False] * len(moved) + [True] * len(added))

    def remove(self, paths: Iterable[str | os.PathLike[str]]) -> Action:
        """Move images of this data set to ``_removed/<their class>/`` (never deleted).

        Raises:
            InputError: a path outside the data set's class folders.
        """
        sources = [self._inside(p) for p in paths]
        bin_ = self.root / REMOVED_FOLDER
        return self._run("remove", self._plan(sources, lambda p: bin_ / p.parent.name))

    def last_undoable(self) -> Action | None:
        """The action :meth:`undo` would reverse (None: nothing to undo)."""
        undone = {a.undoes for a in self.actions if a.kind == "undo"}
        for action in reversed(self.actions):
            if action.kind != "undo" and action.id not in undone and action.files:
                return action
        return None

    def undo(self) -> Action | None:
        """Reverse the last action not yet undone: moved files go back (under a free name if
        theirs was taken meanwhile); added copies are deleted when the original still holds
        the same bytes, else kept in ``_removed``. Returns the undo action, or None."""
        action = self.last_undoable()
        if action is None:
            return None
        pairs: list[tuple[Path, Path]] = []
        for i, (src, dst) in enumerate(action.files):
            here, back = Path(dst), Path(src)
            if not here.exists():
                continue  # moved away by hand since
            if action.copied(i):
                if back.is_file() and file_digest(back) == file_digest(here):
                    pairs.append((here, here))  # (x, x): delete the copy
                    continue
                back = self.root / REMOVED_FOLDER / here.parent.name / here.name
            pairs.append((here, _free(back)))
        return self._run("undo", pairs, undoes=action.id)

    def changed_since(self, mark: int) -> int:
        """How many images changed class, arrived or left since action ``mark`` (the id of the
        last action when, say, an evaluation ran; 0: since the journal began)."""
        return sum(len(a.files) for a in self.actions if a.id > mark)

    @property
    def last_id(self) -> int:
        """The id of the last action (0: none yet)."""
        return self.actions[-1].id if self.actions else 0

    # --- the machinery

    def _inside(self, path: str | os.PathLike[str]) -> Path:
        p = Path(path).expanduser().resolve()
        if p.parent.parent != self.root or is_hidden(p.parent) or \
                p.parent.name == REMOVED_FOLDER or not p.is_file():
            raise InputError(f"not an image of the data set {self.root}: {p}")
        return p

    def _plan(self, sources: list[Path], folder_of: object) -> list[tuple[Path, Path]]:
        """Each source with a free destination (distinct even for two sources of one name)."""
        taken: set[Path] = set()
        pairs = []
        for src in sources:
            folder = folder_of(src)  # type: ignore[operator]
            dst = next(c for c in free_names(folder, src.name)
                       if not c.exists() and c not in taken)
            taken.add(dst)
            pairs.append((src, dst))
        return pairs

    def _run(self, kind: str, pairs: list[tuple[Path, Path]], target: str = "",
             undoes: int | None = None, copies: list[bool] | None = None) -> Action:
        action = Action(self.last_id + 1, kind, [(str(s), str(d)) for s, d in pairs], target,
                        undoes, copies)
        entry = {"op": "begin", "id": action.id, "kind": kind, "files": action.files,
                 "target": target, "undoes": undoes, "time": time.time()}
        self._write(entry if copies is None else {**entry, "copies": copies})
        for i, (src, dst) in enumerate(pairs):
            _carry(src, dst, copy=action.copied(i))
        self._write({"op": "done", "id": action.id})
        self.actions.append(action)
        return action

    def recover(self) -> None:
        """Finish an action a crash cut short: a file under both names keeps the new one (its
        bytes checked); the action is then recorded as done with the files that moved."""
        if not self.actions or self._done(self.actions[-1].id):
            return
        action = self.actions[-1]
        finished = []
        for i, (src, dst) in enumerate(action.files):
            s, d = Path(src), Path(dst)
            if d.exists() and s.exists() and s != d and not action.copied(i):
                if file_digest(s) != file_digest(d):
                    continue  # another file took the name: both stay, this one did not move
                s.unlink()  # the move got as far as the new name: finish it
            if (d.exists() and s != d) or (s == d and not d.exists()):
                finished.append(i)
        for folder in {Path(d).parent for _, d in action.files}:
            sweep(folder)
        files = [action.files[i] for i in finished]
        entry: dict = {"op": "done", "id": action.id, "recovered": True, "files": files}
        if action.copies is not None:
            action.copies = entry["copies"] = [action.copies[i] for i in finished]
        action.files = files
        self._write(entry)

    def _done(self, action_id: int) -> bool:
        return action_id in self._done_ids

    def _read(self) -> list[Action]:
        actions: list[Action] = []
        self._done_ids: set[int] = set()
        if not self.journal.is_file():
            return actions
        for line in self.journal.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash
            if entry.get("op") == "begin":
                actions.append(Action(int(entry["id"]), entry["kind"],
                                      [tuple(f) for f in entry["files"]],  # type: ignore[misc]
                                      entry.get("target", ""), entry.get("undoes"),
                                      entry.get("copies")))
            elif entry.get("op") == "done":
                self._done_ids.add(int(entry["id"]))
                if "files" in entry and actions and actions[-1].id == entry["id"]:
                    actions[-1].files = [tuple(f) for f in entry["files"]]  # type: ignore[misc]
                    actions[-1].copies = entry.get("copies", actions[-1].copies)
        return actions

    def _write(self, entry: dict) -> None:
        with self.journal.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        if entry["op"] == "done":
            self._done_ids.add(int(entry["id"]))


def check_class_name(name: str) -> str:
    """``name`` if it can be a class folder's name.

    Raises:
        InputError: empty, hidden, the removed images' folder, or with a path separator.
    """
    clean = name.strip()
    if not clean or clean.startswith(".") or clean == REMOVED_FOLDER or \
            any(sep in clean for sep in ("/", "\\", os.sep)) or clean in ("..",):
        raise InputError(f"not a usable class name: {name!r}")
    return clean


def _images(n: int) -> str:
    return f"{n} image{'s' if n != 1 else ''}"


def _files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """``paths`` resolved, each checked to be a file.

    Raises:
        InputError: a path that is not a file.
    """
    sources = [Path(p).expanduser().resolve() for p in paths]
    for src in sources:
        if not src.is_file():
            raise InputError(f"not a file: {src}")
    return sources


def _free(path: Path) -> Path:
    return next(c for c in free_names(path.parent, path.name) if not c.exists())


def _carry(src: Path, dst: Path, copy: bool) -> None:
    """Move (or copy) one file to ``dst``, never replacing a file there; ``src == dst`` deletes
    an added copy (undo of an add)."""
    if src == dst:
        src.unlink(missing_ok=True)
        return
    dst.parent.mkdir(parents=True, exist_ok=True)
    if copy:
        copy_into(src, dst.parent)  # under dst's name unless another file took it meanwhile
        return
    try:
        os.link(src, dst)  # one file, two names; never overwrites
    except FileExistsError:
        raise InputError(f"{dst} appeared meanwhile; nothing was moved") from None
    except OSError:  # no hard links here: a verified copy under the new name first
        made = copy_into(src, dst.parent)
        if made != dst or file_digest(made) != file_digest(src):
            made.unlink(missing_ok=True)
            raise InputError(f"could not copy {src} to {dst} whole") from None
    src.unlink()
