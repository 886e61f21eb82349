"""The default recipe, old against new, side by side on real image sets (docs/recipe.md).

    python benchmarks/recipe.py [--old REV] [--sets a,b] [--seeds 42,1,2] [--work DIR]
                                [--only old|new]

For each set the script trains with **no flags** (the default recipe) twice: once with the code
of git revision REV (the recipe before early stopping and the few-shot augmentation; run from a
``git worktree``) and once with this checkout. Both run as ``resnet-gui train`` child processes
one after the other on the same machine, so their seconds compare; each model is then scored with
``resnet-gui evaluate`` on held-out images that were never in the training folder.

With ``--seeds`` each side trains once per seed (``--seed S``: the split, the initial weights and
the augmentation draws change; 42 is the default) and the table gives the mean with each seed's
figure after it, so a gap of one or two held-out images can be told from noise.

The sets are made from real photos and handwriting that packages ship (no network):

- ``tiny-2class``: 2 classes (two photos' crops), 75 images each at 48 px; a set that trains far
  longer than it needs to under the old recipe.
- ``digits-40``: handwritten digits, 40 per class; held-out: 1,000 other digits (other writers).
- ``fewshot-photos``: 8 photo classes, 20 images per class (16 train + 4 validation) cut from the
  left part of each photo; the held-out images come from the right part at another scale and
  light ("other parts of the scene, other scale and light").
- ``fewshot-textures``: 6 grey textures and scenes (brick, grass, gravel, moon, coins, text),
  20 per class from the left part, held-out from the right part at another scale and light.
- ``fewshot-digits``: 20 digits per class; held-out: 1,000 other digits.
- ``fewshot-faces``: LFW faces against non-face patches, 20 per class; held-out: the other 160.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _common import photo_sources  # noqa: E402

#: The last commit with the old recipe (60-epoch cosine runs, mild augmentation).
OLD_REV = "691c4a9"


def _save(img: np.ndarray | Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    im = img if isinstance(img, Image.Image) else Image.fromarray(img)
    im.convert("RGB").save(path, quality=92)


def _crops(img: np.ndarray, n: int, size: int, rng: np.random.Generator, x_range: tuple,
           scale: tuple, light: tuple = (1.0, 1.0)) -> list[Image.Image]:
    """``n`` square crops whose left edge lies in ``x_range`` (fractions of the width), side a
    fraction ``scale`` of the short side, brightness/contrast factors drawn from ``light``."""
    h, w = img.shape[:2]
    out = []
    for _ in range(n):
        side = int(rng.uniform(*scale) * min(h, w))
        x0 = int(rng.uniform(x_range[0], x_range[1]) * w)
        x0 = min(max(0, x0), w - side)
        y0 = int(rng.integers(0, h - side + 1))
        crop = Image.fromarray(img[y0:y0 + side, x0:x0 + side]).resize((size, size),
                                                                      Image.Resampling.BILINEAR)
        crop = ImageEnhance.Brightness(crop).enhance(rng.uniform(*light))
        crop = ImageEnhance.Contrast(crop).enhance(rng.uniform(*light))
        out.append(crop)
    return out


def _photos(names: list[str]) -> dict[str, np.ndarray]:
    from skimage import data

    src = photo_sources()
    for name in names:
        if name not in src:
            img = data.stereo_motorcycle()[0] if name == "motorcycle" else getattr(data, name)()
            src[name] = np.stack([img] * 3, -1) if img.ndim == 2 else img[..., :3]
    return {n: src[n] for n in names}


def make_tiny(root: Path) -> None:
    rng = np.random.default_rng(1)
    for name, img in _photos(["china", "flower"]).items():
        for i, c in enumerate(_crops(img, 75, 48, rng, (0, 0.6), (0.2, 0.5))):
            _save(c, root / "train" / name / f"{i:03d}.jpg")
        for i, c in enumerate(_crops(img, 40, 48, rng, (0.6, 1), (0.2, 0.5))):
            _save(c, root / "test" / name / f"{i:03d}.jpg")


def make_fewshot_photos(root: Path) -> None:
    rng = np.random.default_rng(2)
    names = ["china", "flower", "chelsea", "coffee", "astronaut", "rocket", "motorcycle",
             "hubble_deep_field"]
    for name, img in _photos(names).items():
        for i, c in enumerate(_crops(img, 20, 64, rng, (0, 0.3), (0.25, 0.45))):
            _save(c, root / "train" / name / f"{i:03d}.jpg")
        for i, c in enumerate(_crops(img, 30, 64, rng, (0.5, 1), (0.2, 0.6), (0.6, 1.4))):
            _save(c, root / "test" / name / f"{i:03d}.jpg")


def make_fewshot_textures(root: Path) -> None:
    rng = np.random.default_rng(5)
    names = ["brick", "grass", "gravel", "moon", "coins", "text"]
    for name, img in _photos(names).items():
        for i, c in enumerate(_crops(img, 20, 48, rng, (0, 0.4), (0.2, 0.35))):
            _save(c, root / "train" / name / f"{i:03d}.jpg")
        for i, c in enumerate(_crops(img, 30, 48, rng, (0.5, 1), (0.12, 0.5), (0.6, 1.4))):
            _save(c, root / "test" / name / f"{i:03d}.jpg")


def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images, d.target


def _digit_image(pixels: np.ndarray) -> Image.Image:
    img = Image.fromarray((pixels * (255 / 16)).astype(np.uint8)).resize(
        (32, 32), Image.Resampling.BICUBIC)
    return img.convert("RGB")


def make_digits(root: Path, per_class: int) -> None:
    images, target = _digits()
    rng = np.random.default_rng(3)
    order = rng.permutation(len(target))
    taken = {c: 0 for c in range(10)}
    test = 0
    for i in order:  # the first per_class of each digit train, 1,000 of the rest test
        c = int(target[i])
        if taken[c] < per_class:
            _save(_digit_image(images[i]), root / "train" / str(c) / f"{i:04d}.png")
            taken[c] += 1
        elif test < 1000:
            _save(_digit_image(images[i]), root / "test" / str(c) / f"{i:04d}.png")
            test += 1


def make_faces(root: Path) -> None:
    from skimage import data

    lfw = data.lfw_subset()  # 100 faces, then 100 non-face patches, 25 x 25 grey
    rng = np.random.default_rng(4)
    for label, block in (("face", lfw[:100]), ("not_face", lfw[100:])):
        order = rng.permutation(len(block))
        for k, i in enumerate(order):
            part = "train" if k < 20 else "test"
            img = Image.fromarray((block[i] * 255).astype(np.uint8))
            _save(img, root / part / label / f"{i:03d}.png")


SETS: dict[str, Callable[[Path], None]] = {
    "tiny-2class": make_tiny,
    "digits-40": lambda r: make_digits(r, 40),
    "fewshot-photos": make_fewshot_photos,
    "fewshot-textures": make_fewshot_textures,
    "fewshot-digits": lambda r: make_digits(r, 20),
    "fewshot-faces": make_faces,
}


#: Single choices of the new recipe measured against the default on some sets: a stride-1 stem
#: costs four times the compute of stride 2; does it pay at 48 px, at 32 px?
VARIANTS = {
    "tiny-2class": {"stem1": ["--stem-stride", "1"]},  # 48 px: the default is now stride 2
    "fewshot-faces": {"stem2": ["--stem-stride", "2"]},  # 32 px: the default stays stride 1
}


def _cli(src: Path, model: Path) -> tuple[dict[str, str], list[str]]:
    """The environment and command line of ``resnet-gui`` from the code in ``src`` (its app data
    beside ``model``)."""
    env = {**os.environ, "PYTHONPATH": str(src), "TF_CPP_MIN_LOG_LEVEL": "2",
           "RESNET_GUI_DATA": str(model.parent / "appdata")}
    return env, [sys.executable, "-c",
                 "import sys; from resnet_gui.cli import main; sys.exit(main())"]


def run(src: Path, data: Path, out: Path, flags: list[str] | None = None,
        train: Path | None = None) -> dict:
    """Train on ``train`` (default ``data/train``) with no flags but ``flags`` (code from
    ``src``), then evaluate on the held-out images ``data/test``; returns seconds, held-out
    accuracy, epochs run and the training log."""
    env, cli = _cli(src, out)
    t = time.perf_counter()
    trained = subprocess.run([*cli, "train", str(train or data / "train"), "--out", str(out),
                              *(flags or [])],
                             env=env, cwd=src, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if trained.returncode != 0:
        raise SystemExit(f"training failed ({src}):\n{trained.stderr[-3000:]}")
    log = trained.stdout + trained.stderr
    epochs = sum(1 for line in log.splitlines() if line.lstrip().startswith("epoch "))
    return {"seconds": seconds, "accuracy": evaluate(src, out, data / "test"),
            "epochs": epochs, "log": log}


def evaluate(src: Path, model: Path, test: Path) -> float:
    """Held-out accuracy of ``model`` on the class folders under ``test`` (code from ``src``)."""
    env, cli = _cli(src, model)
    ev = subprocess.run([*cli, "evaluate", str(model), str(test), "--format", "json"],
                        env=env, cwd=src, capture_output=True, text=True)
    if ev.returncode != 0:
        raise SystemExit(f"evaluation failed ({src}):\n{ev.stderr[-3000:]}")
    return float(json.loads(ev.stdout)["accuracy"])


def flip_tta_accuracy(model_path: Path, test: Path) -> float | None:
    """Held-out accuracy when each photo's prediction is averaged with its mirror image's
    (test-time augmentation; None when the model was not trained with flips)."""
    from resnet_gui.core.data.pipeline import decode_many
    from resnet_gui.core.use.inference import Classifier

    clf = Classifier.load(model_path)
    if "flip" not in (clf.info.get("plan") or {}).get("augment", ()):
        return None
    paths, labels = [], []
    for c, name in enumerate(clf.class_names):
        files = sorted((test / name).glob("*"))
        paths += [str(f) for f in files]
        labels += [c] * len(files)
    x, _ = decode_many(paths, clf.image_size)
    x = x.astype(np.float32)
    p = np.asarray(clf.model.predict(x, verbose=0)) + np.asarray(
        clf.model.predict(x[:, :, ::-1], verbose=0))
    return float((p.argmax(1) == np.array(labels)).mean())


def old_checkout(work: Path, rev: str) -> Path:
    """A ``git worktree`` of ``rev`` (made once)."""
    tree = work / f"old-{rev}"
    if not tree.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), rev],
                       check=True, capture_output=True)
    return tree


def summary(runs: list[dict]) -> dict:
    """Mean seconds, epochs and accuracy of one side's runs (one per seed), with the
    per-seed accuracies."""
    return {"seconds": float(np.mean([r["seconds"] for r in runs])),
            "epochs": float(np.mean([r["epochs"] for r in runs])),
            "accuracy": float(np.mean([r["accuracy"] for r in runs])),
            "accuracies": [r["accuracy"] for r in runs]}


def _cells(r: dict | None) -> list[str]:
    if r is None:
        return ["", ""]
    acc = f"{r['accuracy']:.3f}"
    if len(r["accuracies"]) > 1:
        acc += " (" + ", ".join(f"{a:.3f}" for a in r["accuracies"]) + ")"
    return [f"{r['seconds']:.0f} ({r['epochs']:.0f})", acc]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old", default=OLD_REV, help="git revision of the old recipe")
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--seeds", default="42", help="comma-separated seeds; 42 is the default")
    ap.add_argument("--work", default="/tmp/resnet-gui-recipe-bench")
    ap.add_argument("--only", choices=("old", "new"))
    ap.add_argument("--results", default="results.json", help="file name under --work")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    seeds = [int(s) for s in args.seeds.split(",")]
    sides = [s for s in ("old", "new") if args.only in (None, s)]
    source = {"new": ROOT}
    if "old" in sides:
        source["old"] = old_checkout(work, args.old)
    rows = []
    variants: list[str] = []
    print(f"seeds: {', '.join(map(str, seeds))} (accuracy: the mean, then each seed's; seconds "
          "and epochs: the mean)")
    print("| set | train images | held-out | old: s (epochs) | old acc | new: s (epochs) "
          "| new acc | time new/old |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.sets.split(","):
        data = work / "data" / name
        if not (data / "train").exists():
            SETS[name](data)
        n_train = sum(1 for _ in (data / "train").rglob("*.*"))
        n_test = sum(1 for _ in (data / "test").rglob("*.*"))
        runs: dict[str, list[dict]] = {side: [] for side in sides}
        for seed in seeds:
            tag = "" if seed == 42 else f"-seed{seed}"
            for side in sides:
                model = work / "models" / f"{name}-{side}{tag}.keras"
                r = run(source[side], data, model, [] if seed == 42 else ["--seed", str(seed)])
                model.with_suffix(".log").write_text(r["log"])
                runs[side].append(r)
                if side != "new" or seed != seeds[0]:
                    continue
                for variant, flags in VARIANTS.get(name, {}).items():
                    extra = run(source[side], data, work / "models" / f"{name}-{variant}.keras",
                                flags)
                    variants.append(f"{name}, new recipe {' '.join(flags)}: "
                                    f"{extra['seconds']:.0f} s ({extra['epochs']} epochs), "
                                    f"held-out {extra['accuracy']:.3f}")
                tta = flip_tta_accuracy(model, data / "test")
                if tta is not None:
                    variants.append(f"{name}, new recipe + flip test-time augmentation: "
                                    f"held-out {tta:.3f} (without: {r['accuracy']:.3f})")
        res = {side: summary(r) for side, r in runs.items()}
        cells = _cells(res.get("old")) + _cells(res.get("new"))
        ratio = (f"{res['new']['seconds'] / res['old']['seconds']:.2f}"
                 if len(res) == 2 else "")
        print(f"| {name} | {n_train} | {n_test} | " + " | ".join(cells) + f" | {ratio} |",
              flush=True)
        rows.append({"set": name, "seeds": seeds, **res})
    if variants:
        print("\nmeasurements of single choices (this checkout, first seed):")
        for line in variants:
            print("- " + line)
    (work / args.results).write_text(json.dumps({"rows": rows, "variants": variants},
                                                indent=2))

if __name__ == "__main__":
    main()
