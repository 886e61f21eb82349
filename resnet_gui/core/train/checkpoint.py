"""Per-epoch checkpoints of a training run, so an interrupted run resumes where it stopped.

At each epoch's end the runner writes, atomically, one folder holding:

- ``state.json``: phase and epoch, the plan, the history, the best epoch's statistics, the
  data's fingerprint (every training and validation file with its size);
- ``weights.npz``: the model's weights; ``best.npz``: the best weights so far;
- ``optimizer.npz``: the optimizer's variables, its step counter included, so the learning-rate
  schedule continues where it was rather than restarting.

Checkpoints live in the user's data folder (``platformdirs``), one per (data folder, output
path), and are deleted once the finished model is saved. The folder is replaced with two
renames (new -> current after current -> old), so a kill at any instant leaves a whole
checkpoint: the current one or, between the renames, the old one (which :func:`find` also
accepts).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from resnet_gui.core.base.config import TrainConfig

STATE, WEIGHTS, BEST, OPTIMIZER = "state.json", "weights.npz", "best.npz", "optimizer.npz"
#: Bumped when the layout changes; older checkpoints are then ignored.
FORMAT = 1


def checkpoint_root() -> Path:
    """Where checkpoints live: the user's data folder for the app (``RESNET_GUI_DATA`` overrides)."""
    env = os.environ.get("RESNET_GUI_DATA")
    if env:
        return Path(env) / "checkpoints"
    from platformdirs import user_data_dir

    return Path(user_data_dir("resnet-gui", appauthor=False)) / "checkpoints"


def run_key(data_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None) -> str:
    """The checkpoint's name for a (data folder, output path) pair."""
    text = f"{Path(data_dir).expanduser().resolve()}\n"
    text += str(Path(out).expanduser().resolve()) if out else ""
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def fingerprint(paths: list[str]) -> dict[str, int]:
    """Each file and its size (-1 when it is gone): what a resumed run must find unchanged."""
    out: dict[str, int] = {}
    for p in paths:
        try:
            out[p] = os.stat(p).st_size
        except OSError:
            out[p] = -1
    return out


def describe_changes(old: dict[str, int], new: dict[str, int]) -> str:
    """``"2 files added, 1 removed, 1 changed (cats/3.jpg, ...)"``, or "" when equal."""
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(p for p in set(old) & set(new) if old[p] != new[p])
    parts = [f"{len(v)} file(s) {k}" for k, v in
             (("added", added), ("removed", removed), ("changed", changed)) if v]
    if not parts:
        return ""
    named = [Path(p).name for p in (added + removed + changed)[:3]]
    return ", ".join(parts) + f" ({', '.join(named)}{', …' if len(added + removed + changed) > 3 else ''})"


def _save_arrays(path: Path, arrays: list[np.ndarray]) -> None:
    np.savez(path, *[np.asarray(a) for a in arrays])


def _load_arrays(path: Path) -> list[np.ndarray]:
    with np.load(path) as data:
        return [data[f"arr_{i}"] for i in range(len(data.files))]


@dataclass
class Checkpoint:
    """One run's checkpoint folder (it may not exist yet)."""

    folder: Path

    @classmethod
    def for_run(cls, data_dir: str | os.PathLike[str],
                out: str | os.PathLike[str] | None) -> Checkpoint:
        """The checkpoint of the run training on ``data_dir`` for ``out``."""
        return cls(checkpoint_root() / run_key(data_dir, out))

    @property
    def _old(self) -> Path:
        return self.folder.with_name(self.folder.name + ".old")

    def find(self) -> Path | None:
        """The whole checkpoint folder on disk (current, or old after a kill), if any."""
        for folder in (self.folder, self._old):
            if (folder / STATE).is_file():
                return folder
        return None

    def state(self) -> dict | None:
        """The saved state (None when there is no usable checkpoint)."""
        folder = self.find()
        if folder is None:
            return None
        try:
            state = json.loads((folder / STATE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return state if state.get("format") == FORMAT else None

    def save(self, state: dict, model: Any, best_weights: list | None) -> None:
        """Write the checkpoint atomically (see the module docstring)."""
        self._remove_partials()
        new = self.folder.with_name(self.folder.name + f".new{os.getpid()}")
        new.mkdir(parents=True)
        try:
            _save_arrays(new / WEIGHTS, model.get_weights())
            _save_arrays(new / OPTIMIZER, [v.numpy() for v in model.optimizer.variables])
            if best_weights is not None:
                _save_arrays(new / BEST, best_weights)
            (new / STATE).write_text(json.dumps({**state, "format": FORMAT}), encoding="utf-8")
            for f in new.iterdir():
                with f.open("rb") as fh:
                    os.fsync(fh.fileno())
            if self.folder.exists():
                shutil.rmtree(self._old, ignore_errors=True)
                os.replace(self.folder, self._old)
            os.replace(new, self.folder)
            shutil.rmtree(self._old, ignore_errors=True)
        finally:
            shutil.rmtree(new, ignore_errors=True)

    def arrays(self, name: str) -> list[np.ndarray] | None:
        """The arrays saved under ``name`` (WEIGHTS, BEST, OPTIMIZER), or None."""
        folder = self.find()
        if folder is None or not (folder / name).is_file():
            return None
        try:
            return _load_arrays(folder / name)
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            from resnet_gui.core.base.errors import TrainingError

            raise TrainingError(
                f"the checkpoint in {folder} is damaged ({exc}); train afresh without --resume"
            ) from exc

    def discard(self) -> None:
        """Delete the checkpoint (after a successful save, or when the user discards it)."""
        for folder in (self.folder, self._old):
            shutil.rmtree(folder, ignore_errors=True)
        self._remove_partials()

    def _remove_partials(self) -> None:
        """Half-written checkpoints of killed runs (``<key>.new<pid>``)."""
        if self.folder.parent.is_dir():
            for partial in self.folder.parent.glob(f"{self.folder.name}.new*"):
                shutil.rmtree(partial, ignore_errors=True)


def open_for(
    config: TrainConfig, say: Callable[[str], None]
) -> tuple[Checkpoint | None, dict | None]:
    """The checkpoint of ``config``'s run, and its state when the run is to resume from it.

    Says in one line when an interrupted run exists but ``config.resume`` is off (the new run
    replaces it), or when a resume finds nothing to resume.
    """
    if not config.checkpoints:
        return None, None
    ckpt = Checkpoint.for_run(config.data_dir, config.run_out)
    state = ckpt.state()
    if state is None:
        if config.resume:
            say("no interrupted run of this data to resume: starting afresh")
        return ckpt, None
    if not config.resume:
        say(f"an earlier run of this data was interrupted at epoch {state['epochs_done']} of "
            f"{state['epochs']}; this run starts afresh and replaces it (--resume continues it)")
        return ckpt, None
    return ckpt, state
