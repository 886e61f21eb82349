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
from _common import mean_se, read_rows  # noqa: E402
from recipe import SETS as RECIPE_SETS  # noqa: E402
from recipe import _crops, _photos, _save, evaluate, run  # noqa: E402

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


def make_textures_two_lights(root: Path) -> None:
    """``fewshot-textures`` (held-out ``test`` at other light), plus ``test-same-light``: other
    crops from the same right part, lit as the training ones (the textures' classes differ
    little in light, but no class varies in it: a light cue inside the training folder)."""
    RECIPE_SETS["fewshot-textures"](root)
    rng = np.random.default_rng(15)
    for name, img in _photos(["brick", "grass", "gravel", "moon", "coins", "text"]).items():
        for i, c in enumerate(_crops(img, 30, 48, rng, (0.5, 1), (0.12, 0.5))):
            _save(c, root / "test-same-light" / name / f"{i:03d}.jpg")


def make_lit_objects(root: Path) -> None:
    """Light varies within the classes: 4 photos' crops (48 px), each crop at its own exposure
    and contrast (x0.6-1.4), training and held-out alike (the held-out from the other half of
    each photo). 20 per class; 30 held-out."""
    rng = np.random.default_rng(16)
    for name, img in _photos(["china", "flower", "chelsea", "coffee"]).items():
        for i, c in enumerate(_crops(img, 20, 48, rng, (0, 0.45), (0.2, 0.45), (0.6, 1.4))):
            _save(c, root / "train" / name / f"{i:03d}.jpg")
        for i, c in enumerate(_crops(img, 30, 48, rng, (0.55, 1), (0.2, 0.45), (0.6, 1.4))):
            _save(c, root / "test" / name / f"{i:03d}.jpg")
    make_wider_light(root)


def make_wider_light(root: Path) -> None:
    """``lit-objects``' ``test-wider-light``: other crops from the same parts as ``test``, lit
    more widely than any training photo (x0.4-1.8)."""
    rng = np.random.default_rng(18)
    for name, img in _photos(["china", "flower", "chelsea", "coffee"]).items():
        for i, c in enumerate(_crops(img, 30, 48, rng, (0.55, 1), (0.2, 0.45), (0.4, 1.8))):
            _save(c, root / "test-wider-light" / name / f"{i:03d}.jpg")


#: Exposure of each class of ``dark-objects``: two classes are dark things (about 40 of 255
#: on average, as a black object), two are not; the same in training and held-out photos.
DARK_CLASSES = {"astronaut": 1.0, "coffee": 1.0, "chelsea": 0.35, "china": 0.35}


def make_dark_objects(root: Path) -> None:
    """Light is a class cue: 4 photos' crops (48 px), two classes much darker than the others
    (:data:`DARK_CLASSES`), each crop's exposure varying only a little (x0.9-1.1); held-out
    from the other half of each photo, lit the same way. 20 per class; 30 held-out."""
    rng = np.random.default_rng(17)
    for name, img in _photos(list(DARK_CLASSES)).items():
        dark = (img.astype(np.float32) * DARK_CLASSES[name]).astype(np.uint8)
        for i, c in enumerate(_crops(dark, 20, 48, rng, (0, 0.45), (0.2, 0.45), (0.9, 1.1))):
            _save(c, root / "train" / name / f"{i:03d}.jpg")
        for i, c in enumerate(_crops(dark, 30, 48, rng, (0.55, 1), (0.2, 0.45), (0.9, 1.1))):
            _save(c, root / "test" / name / f"{i:03d}.jpg")


SETS = {
    "scales-4class": make_scales,
    "fewshot-rotated": make_fewshot_rotated,
    "fewshot-photos": RECIPE_SETS["fewshot-photos"],
    "fewshot-textures": make_textures_two_lights,
    "fewshot-faces": RECIPE_SETS["fewshot-faces"],
    "tiny-2class": RECIPE_SETS["tiny-2class"],
    "fewshot-digits": RECIPE_SETS["fewshot-digits"],
    "lit-objects": make_lit_objects,
    "dark-objects": make_dark_objects,
}


def _done(results: Path) -> dict[tuple, dict]:
    return read_rows(results, ("set", "arm", "seed"))


def auto_choice(data: Path) -> str:
    """What ``augment=auto`` picks for the set's training folder, and its light cue."""
    from resnet_gui.core.data.dataset import scan_dataset
    from resnet_gui.core.train.recipe import auto_augment

    report = scan_dataset(data / "train")
    chosen, _ = auto_augment(report)
    cue = "–" if report.light_cue is None else f"{report.light_cue:.2f}"
    return f"{cue}: {'with' if 'brightness' in chosen else 'no'} brightness"


def table(rows: dict[tuple[str, str, int], dict], arms: list[str],
          work: Path | None = None) -> str:
    """A Markdown table: per set and held-out folder, each arm's mean held-out accuracy ±
    standard error over the seeds, mean seconds, and (two arms) the second minus the first with
    the standard error of the per-seed differences."""
    sets = list(dict.fromkeys(k[0] for k in rows))
    head = ["set", "held-out", "seeds", *arms]
    if len(arms) == 2:
        head.append(f"{arms[1]} − {arms[0]} (points)")
    if work is not None:
        head.append("light cue: auto")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in sets:
        keys = [k for k in rows if k[0] == s]
        tests = [k for k in rows[keys[0]] if k.startswith("accuracy")]
        for test in tests:
            by_arm = {arm: {k[2]: rows[k] for k in keys if k[1] == arm and test in rows[k]}
                      for arm in arms}
            seeds = sorted(set.intersection(*(set(v) for v in by_arm.values())))
            cells = [s, "test" if test == "accuracy" else test.removeprefix("accuracy_"),
                     str(len(seeds))]
            for arm in arms:
                accs = [by_arm[arm][sd][test] for sd in seeds]
                secs = [by_arm[arm][sd]["seconds"] for sd in seeds]
                cells.append(f"{mean_se(accs)}, {np.mean(secs):.0f} s" if accs else "")
            if len(arms) == 2 and seeds:
                diff = [100 * (by_arm[arms[1]][sd][test] - by_arm[arms[0]][sd][test])
                        for sd in seeds]
                se = np.std(diff, ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
                cells.append(f"{np.mean(diff):+.1f} ± {se:.1f}")
            if work is not None:
                cells.append(auto_choice(work / "data" / s))
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default=",".join(s for s in SETS if s != "fewshot-digits"))
    ap.add_argument("--arms", default="former,former+brightness")
    ap.add_argument("--seeds", default="1,2,3,4,5", help="comma-separated seeds")
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
                    done = _done(results).get((name, arm, seed))
                    model = work / "models" / f"{name}-{arm}-{seed}.keras"
                    if done is not None:  # held-out folders added since: measured now
                        missing = {f"accuracy_{t.name}": evaluate(ROOT, model, t)
                                   for t in sorted(data.glob("test-*"))
                                   if f"accuracy_{t.name}" not in done and model.exists()}
                        if missing:
                            with results.open("a") as f:
                                f.write(json.dumps({**done, **missing}) + "\n")
                        continue
                    flags = ["--augment", ARMS[arm], "--seed", str(seed)]
                    r = run(ROOT, data, model, flags)
                    model.with_suffix(".log").write_text(r.pop("log"))
                    extra = {f"accuracy_{t.name}": evaluate(ROOT, model, t)
                             for t in sorted(data.glob("test-*"))}
                    row = {"set": name, "arm": arm, "seed": seed, **r, **extra}
                    with results.open("a") as f:
                        f.write(json.dumps(row) + "\n")
                    print(f"{name} {arm} seed {seed}: {r['accuracy']:.3f} in "
                          f"{r['seconds']:.0f} s ({r['epochs']} epochs)", flush=True)
    print(table(_done(results), arms, work))


if __name__ == "__main__":
    main()
