"""Which augmentation should ``augment=auto`` use? Each candidate list, side by side, on many kinds
of real images, over seeds (docs/recipe.md, "Choosing the augmentation").

    python benchmarks/augment.py [--sets a,b] [--arms former,today] [--seeds 42,1,2]
                                 [--work DIR]

Every run is ``resnet-gui train DATA/train --out M.keras --augment LIST [--seed S]`` from this
checkout (everything else is the default recipe), scored with ``resnet-gui evaluate`` on held-out
images that were never in the training folder. Runs go one after another, so seconds compare.

The arms (``ARMS``) are the former default, today's, and lists that add or remove one
augmentation, so each one's contribution can be read off. The sets (``SETS``) are real photos,
textures and faces that packages ship, from 16 to 80 training images per class, with test images
from the same photos at other places, scales, rotations or light:

- ``scales-4class``: 4 photos' crops at many scales (1/8 to 1/2 of the side), 96 px files
  trained at 64 px, 60 per class; held-out: 40 other crops per class of the same kind.
- ``fewshot-rotated``: 8 photos, 20 crops per class of varied scale and rotation (up to 30
  degrees either way); held-out: 30 other such crops per class.
- ``fewshot-photos``, ``fewshot-textures``, ``fewshot-faces``, ``tiny-2class``: as in
  ``benchmarks/recipe.py`` (held-out from other parts of the photos, other scale and light).
- ``fewshot-digits``: handwritten digits; not in the default list (auto gives such mirror-
  sensitive sets the aligned list, which no arm here changes).

Results are appended to ``WORK/augment.jsonl`` as they come, so an interrupted run keeps what it
measured and a rerun skips what is there.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from recipe import SETS as RECIPE_SETS  # noqa: E402
from recipe import _photos, _save, run  # noqa: E402

#: The candidate lists. "former" was auto's list for photos until stop 15; "today" is the list
#: issue 18 measured losing on held-out photos; "former+brightness" is auto's list since stop 24
#: (docs/recipe.md, "Choosing the augmentation").
ARMS = {
    "former": "flip,rotate,shift,zoom,contrast",
    "today": "flip,crop,rotate,color,contrast",
    "today-color": "flip,crop,rotate,contrast",  # today's without colour jitter
    "former+color": "flip,rotate,shift,zoom,color,contrast",  # the former plus colour jitter
    "former+crop": "flip,crop,rotate,shift,zoom,contrast",  # the former plus random crops
    "former+brightness": "flip,rotate,shift,zoom,brightness,contrast",  # light, not hue
    "aligned": "rotate,shift,zoom,contrast",  # auto's list for mirror-sensitive sets (digits)
}


def _rotated_crops(img: np.ndarray, n: int, size: int, rng: np.random.Generator,
                   scale: tuple[float, float], max_angle: float) -> list[Image.Image]:
    """``n`` square crops anywhere in ``img``, side a fraction ``scale`` of the short side,
    turned by up to ``max_angle`` degrees either way (cut from a larger square, so no corners
    are blank)."""
    h, w = img.shape[:2]
    out = []
    for _ in range(n):
        side = int(rng.uniform(*scale) * min(h, w))
        big = min(int(side * 1.45), min(h, w))
        y0, x0 = int(rng.integers(0, h - big + 1)), int(rng.integers(0, w - big + 1))
        patch = Image.fromarray(img[y0:y0 + big, x0:x0 + big])
        patch = patch.rotate(rng.uniform(-max_angle, max_angle), Image.Resampling.BILINEAR)
        m = (big - side) // 2
        out.append(patch.crop((m, m, m + side, m + side)).resize((size, size),
                                                                   Image.Resampling.BILINEAR))
    return out


def make_scales(root: Path) -> None:
    """4 photos' crops at many scales, 96 px files (trained at 64 px): 60 train + 40 test each."""
    rng = np.random.default_rng(11)
    for name, img in _photos(["china", "flower", "chelsea", "coffee"]).items():
        crops = _rotated_crops(img, 100, 96, rng, (0.125, 0.5), 0.0)
        for i, c in enumerate(crops):
            _save(c, root / ("train" if i < 60 else "test") / name / f"{i:03d}.jpg")


def make_fewshot_rotated(root: Path) -> None:
    """8 photos, 20 crops per class of varied scale and rotation (48 px); 30 test each."""
    rng = np.random.default_rng(12)
    names = ["china", "flower", "chelsea", "coffee", "astronaut", "rocket", "motorcycle",
             "hubble_deep_field"]
    for name, img in _photos(names).items():
        crops = _rotated_crops(img, 50, 48, rng, (0.15, 0.5), 30.0)
        for i, c in enumerate(crops):
            _save(c, root / ("train" if i < 20 else "test") / name / f"{i:03d}.jpg")


SETS = {
    "scales-4class": make_scales,
    "fewshot-rotated": make_fewshot_rotated,
    "fewshot-photos": RECIPE_SETS["fewshot-photos"],
    "fewshot-textures": RECIPE_SETS["fewshot-textures"],
    "fewshot-faces": RECIPE_SETS["fewshot-faces"],
    "tiny-2class": RECIPE_SETS["tiny-2class"],
    "fewshot-digits": RECIPE_SETS["fewshot-digits"],
}


def _done(results: Path) -> dict[tuple[str, str, int], dict]:
    if not results.exists():
        return {}
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
    return {(r["set"], r["arm"], r["seed"]): r for r in rows}


def table(rows: dict[tuple[str, str, int], dict], arms: list[str]) -> str:
    """A Markdown table: per set, each arm's mean held-out accuracy with its per-seed figures
    and mean seconds."""
    sets = list(dict.fromkeys(k[0] for k in rows))
    lines = ["| set | " + " | ".join(arms) + " |", "|---|" + "---|" * len(arms)]
    for s in sets:
        cells = []
        for arm in arms:
            rs = [rows[k] for k in sorted(rows, key=lambda k: k[2]) if k[:2] == (s, arm)]
            if not rs:
                cells.append("")
                continue
            accs = [r["accuracy"] for r in rs]
            cell = f"{np.mean(accs):.3f}"
            if len(accs) > 1:
                cell += " (" + ", ".join(f"{a:.3f}" for a in accs) + ")"
            cells.append(cell + f", {np.mean([r['seconds'] for r in rs]):.0f} s")
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=",".join(s for s in SETS if s != "fewshot-digits"))
    ap.add_argument("--arms", default="former,today")
    ap.add_argument("--seeds", default="42,1,2", help="comma-separated seeds; 42 is the default")
    ap.add_argument("--work", default="/tmp/resnet-gui-augment-bench")
    ap.add_argument("--table", action="store_true", help="only print the table of what is done")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    results = work / "augment.jsonl"
    arms = args.arms.split(",")
    if not args.table:
        for seed in (int(s) for s in args.seeds.split(",")):
            for name in args.sets.split(","):
                data = work / "data" / name
                if not (data / "train").exists():
                    SETS[name](data)
                for arm in arms:
                    if (name, arm, seed) in _done(results):
                        continue
                    flags = ["--augment", ARMS[arm], "--seed", str(seed)]
                    model = work / "models" / f"{name}-{arm}-{seed}.keras"
                    r = run(ROOT, data, model, flags)
                    model.with_suffix(".log").write_text(r.pop("log"))
                    row = {"set": name, "arm": arm, "seed": seed, **r}
                    with results.open("a") as f:
                        f.write(json.dumps(row) + "\n")
                    print(f"{name} {arm} seed {seed}: {r['accuracy']:.3f} in "
                          f"{r['seconds']:.0f} s ({r['epochs']} epochs)", flush=True)
    print(table(_done(results), arms))


if __name__ == "__main__":
    main()
