"""The training / validation split of a scanned data set: stratified, near-duplicates kept on one
side."""

from __future__ import annotations

import numpy as np

from resnet_gui.core.base.errors import DatasetError


def stratified_split(
    labels: np.ndarray, val_fraction: float, seed: int = 0, groups: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into (train, validation), keeping each class's share.

    Each class with at least two images gives at least one to validation (when val_fraction > 0)
    and keeps at least one for training. Images with the same ``groups`` id (near-duplicates,
    :meth:`DatasetReport.duplicate_groups`) all land on one side, so validation images are not
    copies of training images; a class whose images are all one group stays in training.

    Raises:
        DatasetError: val_fraction is outside [0, 0.9].
    """
    if not 0.0 <= val_fraction <= 0.9:
        raise DatasetError(f"validation split must be between 0 and 0.9, got {val_fraction}")
    if groups is None:
        groups = np.arange(len(labels))
    rng = np.random.default_rng(seed)
    train_idx: list[int] = []
    val_idx: list[int] = []
    in_val: dict[int, bool] = {}  # the side each group went to
    for label in np.unique(labels):
        idx = np.flatnonzero(labels == label)
        rng.shuffle(idx)
        n_val = int(round(len(idx) * val_fraction))
        if val_fraction > 0 and len(idx) >= 2:
            n_val = min(max(n_val, 1), len(idx) - 1)
        else:
            n_val = 0 if len(idx) < 2 else n_val
        units: dict[int, list[int]] = {}
        for i in idx.tolist():
            units.setdefault(int(groups[i]), []).append(i)
        taken = sum(len(m) for g, m in units.items() if in_val.get(g))
        for g, members in units.items():
            if g not in in_val:  # whole groups fill validation while they fit
                in_val[g] = taken + len(members) <= n_val
                taken += len(members) if in_val[g] else 0
            (val_idx if in_val[g] else train_idx).extend(members)
    return np.array(sorted(train_idx), dtype=np.int64), np.array(sorted(val_idx), dtype=np.int64)
