"""Classes of unequal size: does the recipe gain by weighing them (docs/recipe.md, "Classes of
unequal size")?

    python benchmarks/balance.py [--sets a,b] [--ratios 3,10] [--arms none,weights]
                                 [--seeds 1,2,3,4,5] [--work DIR] [--table]

Each set is a balanced pool of real images that packages ship; an imbalanced version keeps
``MAJOR`` training images in the first half of the classes and ``MAJOR / ratio`` in the others
(3:1 and 10:1). Every run is ``resnet-gui train`` with the default recipe and only
``--class-balance`` changed, scored on a **balanced** held-out set (40 other images per class):

- *balanced accuracy*: the mean of the per-class recalls (what the held-out set measures);
- *accuracy at the training mix*: the same recalls weighted by the training set's class shares,
  i.e. the accuracy on new photos that come in the proportions of the folder.

Besides the trained arms, ``none+prior`` is the ``none`` model with its probabilities divided by
the training class shares (post-hoc logit adjustment, Menon et al. 2021), computed from the same
predictions. Results are appended to ``WORK/balance.jsonl``; a rerun skips what is there.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _common import mean_se, read_rows  # noqa: E402
from recipe import _crops, _photos, _save, run  # noqa: E402

#: Training images of each class in the first half of the classes.
MAJOR = 60


def _pool(root: Path, names: list[str], size: int, scale: tuple, seed: int) -> None:
    """``MAJOR`` training crops per class from the left part of each photo, 40 held-out crops
    from the right part."""
    rng = np.random.default_rng(seed)
    for name, img in _photos(names).items():
        for i, c in enumerate(_crops(img, MAJOR, size, rng, (0, 0.45), scale)):
            _save(c, root / "pool" / name / f"{i:03d}.jpg")
        for i, c in enumerate(_crops(img, 40, size, rng, (0.55, 1), scale)):
            _save(c, root / "test" / name / f"{i:03d}.jpg")


SETS: dict[str, Callable[[Path], None]] = {
    # 4 colour photos' crops (tuning set)
    "photos-4class": lambda r: _pool(r, ["china", "flower", "chelsea", "coffee"], 48,
                                     (0.15, 0.4), 21),
    # 6 grey textures and scenes (confirming set)
    "textures-6class": lambda r: _pool(r, ["brick", "grass", "gravel", "moon", "coins", "text"],
                                       48, (0.12, 0.3), 22),
}


def imbalanced(data: Path, ratio: int) -> Path:
    """``data/train-1toRATIO``: the pool with the second half of the classes cut to
    ``MAJOR / ratio`` images (made once)."""
    out = data / f"train-1to{ratio}"
    if out.exists():
        return out
    classes = sorted(p.name for p in (data / "pool").iterdir())
    for k, name in enumerate(classes):
        files = sorted((data / "pool" / name).iterdir())
        keep = files if k < len(classes) // 2 else files[: max(2, round(MAJOR / ratio))]
        (out / name).mkdir(parents=True)
        for f in keep:
            shutil.copy(f, out / name / f.name)
    return out


def recalls(model: Path, test: Path, shares: np.ndarray | None = None) -> np.ndarray:
    """Per-class recall of ``model`` on ``test``; with ``shares``, of its probabilities divided
    by those class shares (post-hoc logit adjustment, on the model's own probabilities: the
    calibration's temperature, fitted afterwards, is left out here)."""
    from resnet_gui.core.data.pipeline import decode_many
    from resnet_gui.core.use.inference import Classifier

    clf = Classifier.load(model)
    paths, labels = [], []
    for c, name in enumerate(clf.class_names):
        files = sorted((test / name).iterdir())
        paths += [str(f) for f in files]
        labels += [c] * len(files)
    x, _ = decode_many(paths, clf.image_size)
    p = np.asarray(clf.model.predict(x.astype(np.float32), verbose=0), np.float64)
    if shares is not None:
        p = p / shares
    pred, y = p.argmax(1), np.array(labels)
    return np.array([(pred[y == c] == c).mean() for c in range(len(clf.class_names))])


def _done(results: Path) -> dict[tuple, dict]:
    return read_rows(results, ("set", "ratio", "arm", "seed"))


def table(rows: dict[tuple, dict]) -> str:
    """Per set and ratio, each arm's balanced accuracy and accuracy at the training mix: mean ±
    standard error over the seeds."""
    arms = list(dict.fromkeys(k[2] for k in rows))
    lines = ["| set | ratio | seeds | " + " | ".join(
        f"{a}: balanced | {a}: at the mix" for a in arms) + " |",
        "|---|---|---|" + "---|---|" * len(arms)]
    for s, ratio in dict.fromkeys(k[:2] for k in rows):
        cells, seeds = [], set()
        for arm in arms:
            rs = [r for k, r in rows.items() if k[:3] == (s, ratio, arm)]
            seeds |= {r["seed"] for r in rs}
            cells += ([mean_se([r["balanced"] for r in rs]), mean_se([r["at_mix"] for r in rs])]
                      if rs else ["", ""])
        lines.append(f"| {s} | 1:{ratio} | {len(seeds)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--ratios", default="3,10")
    ap.add_argument("--arms", default="none,weights")
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--work", default="/tmp/resnet-gui-balance-bench")
    ap.add_argument("--table", action="store_true", help="only print the table of what is done")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    results = work / "balance.jsonl"
    if not args.table:
        for seed in (int(s) for s in args.seeds.split(",")):
            for name in args.sets.split(","):
                data = work / "data" / name
                if not (data / "test").exists():
                    SETS[name](data)
                for ratio in (int(r) for r in args.ratios.split(",")):
                    train = imbalanced(data, ratio)
                    counts = np.array([len(list(p.iterdir())) for p in sorted(train.iterdir())])
                    shares = counts / counts.sum()
                    for arm in args.arms.split(","):
                        if (name, ratio, arm, seed) in _done(results):
                            continue
                        model = work / "models" / f"{name}-1to{ratio}-{arm}-{seed}.keras"
                        flags = ["--class-balance", arm, "--seed", str(seed)]
                        r = run(ROOT, data, model, flags, train=train)
                        model.with_suffix(".log").write_text(r.pop("log"))
                        variants = {arm: None} if arm != "none" else {"none": None,
                                                                      "none+prior": shares}
                        for label, adjust in variants.items():
                            rec = recalls(model, data / "test", adjust)
                            row = {"set": name, "ratio": ratio, "arm": label, "seed": seed,
                                   "balanced": float(rec.mean()),
                                   "at_mix": float(rec @ shares), "recalls": rec.tolist(),
                                   "seconds": r["seconds"], "epochs": r["epochs"]}
                            with results.open("a") as f:
                                f.write(json.dumps(row) + "\n")
                            print(f"{name} 1:{ratio} {label} seed {seed}: balanced "
                                  f"{row['balanced']:.3f}, at the mix {row['at_mix']:.3f} "
                                  f"({r['seconds']:.0f} s, {r['epochs']} epochs)", flush=True)
    print(table(_done(results)))


if __name__ == "__main__":
    main()
