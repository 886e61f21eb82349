"""Train again after fixing labels: the time of a continued run (``--init``, what the app's
"Train again" does) as a ratio to a fresh run on the same fixed data, and the held-out accuracy
of both, side by side in one process.

A data set gets 5 % of its labels wrong (moved to another class folder); a model is trained on
it (the "before" model). The wrong labels are then fixed, and two runs train on the fixed data
with the default recipe: a fresh one, and one that continues from the before model. All three
are measured on held-out images.

    .venv/bin/python benchmarks/retrain.py [--seeds 2] [--per-class 40]
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
from review import files_by_class, write_digits  # noqa: E402

WRONG = 0.05


def accuracy(model_path: Path, paths: list[str], labels: np.ndarray, classes: list[str]) -> float:
    """The saved model's top-1 accuracy on the images ``paths``."""
    from resnet_gui.core.use.inference import Classifier

    preds = [classes.index(p.labels[0])
             for p in Classifier.load(model_path).predict(paths, top_k=1)]
    return float((np.array(preds) == labels).mean())


def run(seed: int, per_class: int, work: Path, again_epochs: int | None = None
        ) -> dict[str, float]:
    """One seed: the before model, then the fresh and the continued run on the fixed data."""
    from resnet_gui.core.base.config import TrainConfig
    from resnet_gui.core.data.edits import DataSetEditor
    from resnet_gui.core.train import train

    paths, labels, classes = files_by_class(write_digits(work / "all"))
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
    fit("again", init=str(before), epochs=again_epochs)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--per-class", type=int, default=40)
    ap.add_argument("--again-epochs", type=int, default=None,
                    help="epochs of the continued run (default: the recipe's, as the app)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="retrain-bench-"))
    print(f"digits, {args.per_class} per class, {WRONG:.0%} of the labels wrong, then fixed")
    print(f"{'seed':>4} {'before':>7} {'fresh':>7} {'again':>7} {'fresh s':>8} {'again s':>8} "
          f"{'ratio':>6}", flush=True)
    rows = []
    try:
        for seed in range(1, args.seeds + 1):
            r = run(seed, args.per_class, work, args.again_epochs)
            rows.append(r)
            print(f"{seed:>4} {r['before']:7.3f} {r['fresh']:7.3f} {r['again']:7.3f} "
                  f"{r['fresh_s']:8.1f} {r['again_s']:8.1f} {r['again_s'] / r['fresh_s']:6.2f}",
                  flush=True)
        m = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        print(f"mean {m['before']:7.3f} {m['fresh']:7.3f} {m['again']:7.3f} {m['fresh_s']:8.1f} "
              f"{m['again_s']:8.1f} {m['again_s'] / m['fresh_s']:6.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
