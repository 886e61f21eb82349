"""Train again after fixing labels: the time of a continued run (``--init``, what the app's
"Train again" does) as a ratio to a fresh run on the same fixed data, and the held-out accuracy
of both, side by side in one process.

A data set gets 5 % of its labels wrong (moved to another class folder); a model is trained on
it (the "before" model). The wrong labels are then fixed, and two runs train on the fixed data
with the default recipe: a fresh one, and one that continues from the before model. All three
are measured on held-out images.

    .venv/bin/python benchmarks/retrain.py [--seeds 2] [--per-class 40] [--data textures]
        [--again-epochs auto,15,auto@1]

``--again-epochs`` lists the continued runs to measure from the same before model: ``auto`` is
what the app does (a fresh run's automatic epoch ceiling, early stopping on), a number that
many epochs exactly (as ``--epochs N``: no early stopping). ``@F`` after either runs it at F
times a fresh run's learning rate instead of the app's ``CONTINUE_LR_FACTOR``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from review import files_by_class, write_digits, write_textures  # noqa: E402

WRONG = 0.05


def accuracy(model_path: Path, paths: list[str], labels: np.ndarray, classes: list[str]) -> float:
    """The saved model's top-1 accuracy on the images ``paths``."""
    from resnet_gui.core.use.inference import Classifier

    preds = [classes.index(p.labels[0])
             for p in Classifier.load(model_path).predict(paths, top_k=1)]
    return float((np.array(preds) == labels).mean())


def write_data(kind: str, root: Path) -> Path:
    """The whole labelled set of ``kind`` ("digits": 1,797; "textures": 8 x 200)."""
    if root.exists():
        return root
    return write_digits(root) if kind == "digits" else write_textures(root, per_class=200)


def run(seed: int, per_class: int, work: Path, again: list[str], kind: str = "digits"
        ) -> dict[str, float]:
    """One seed: the before model, then the fresh and the continued runs on the fixed data."""
    from resnet_gui.core.base.config import TrainConfig
    from resnet_gui.core.data.edits import DataSetEditor
    from resnet_gui.core.train import continuation, train

    paths, labels, classes = files_by_class(write_data(kind, work / f"all-{kind}"))
    rng = np.random.default_rng(seed)
    train_idx = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:per_class]
                                for c in range(len(classes))])
    test_idx = np.setdiff1d(np.arange(len(paths)), train_idx)
    data = work / f"data{seed}"
    for i in train_idx:  # real copies: the fix moves files
        folder = data / classes[labels[i]]
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(paths[i], folder)
    wrong = rng.choice(train_idx, int(round(WRONG * len(train_idx))), replace=False)
    editor = DataSetEditor(data)
    for i in wrong:
        other = classes[(labels[i] + 1 + rng.integers(len(classes) - 1)) % len(classes)]
        editor.move_to_class([data / classes[labels[i]] / Path(paths[i]).name], other)
    test = ([paths[i] for i in test_idx], labels[test_idx])
    out: dict[str, float] = {}
    app_factor = continuation.CONTINUE_LR_FACTOR

    def fit(name: str, **kwargs: object) -> Path:
        t = time.perf_counter()
        result = train(TrainConfig(str(data), seed=seed, checkpoints=False, **kwargs))
        out[f"{name}_s"] = time.perf_counter() - t
        saved = result.save(work / f"{name}{seed}.keras")
        out[name] = accuracy(saved, *test, classes)
        return saved

    before = fit("before")
    for _ in range(len(wrong)):
        editor.undo()  # the fix: each wrong label back in its class
    fit("fresh")
    for name in again:
        epochs, _, factor = name.partition("@")
        continuation.CONTINUE_LR_FACTOR = float(factor) if factor else app_factor
        try:
            fit(f"again-{name}", init=str(before),
                epochs=None if epochs == "auto" else int(epochs))
        finally:
            continuation.CONTINUE_LR_FACTOR = app_factor
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--per-class", type=int, default=40)
    ap.add_argument("--data", choices=("digits", "textures"), default="digits")
    ap.add_argument("--again-epochs", default="auto",
                    help="comma-separated continued runs: 'auto' (the app's) or a fixed "
                         "number of epochs, e.g. auto,15; '@F' after one: at F times a fresh "
                         "run's rate, e.g. auto@1")
    args = ap.parse_args()
    again = args.again_epochs.split(",")
    work = Path(tempfile.mkdtemp(prefix="retrain-bench-"))
    print(f"{args.data}, {args.per_class} per class, {WRONG:.0%} of the labels wrong, then "
          "fixed; accuracy on the held-out rest, seconds, time ratio to the fresh run")
    cols = ["before", "fresh", *(f"again-{a}" for a in again)]
    w = max(9, *(len(c) + 2 for c in cols))  # every column as wide as the widest name
    print(f"{'seed':>4} " + " ".join(f"{c:>{w}}" for c in cols) + " " +
          " ".join(f"{c + ' s':>{w}}" for c in cols[1:]) + " " +
          " ".join(f"{'ratio ' + a:>{w}}" for a in again), flush=True)
    rows = []

    def line(label: str, r: dict[str, float]) -> str:
        # the mean row's ratios are those of the mean seconds
        return (f"{label:>4} " + " ".join(f"{r[c]:{w}.3f}" for c in cols) + " " +
                " ".join(f"{r[c + '_s']:{w}.1f}" for c in cols[1:]) + " " +
                " ".join(f"{r[f'again-{a}_s'] / r['fresh_s']:{w}.2f}" for a in again))

    try:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            rows.append(run(seed, args.per_class, work, again, args.data))
            print(line(str(seed), rows[-1]), flush=True)
        print(line("mean", {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
