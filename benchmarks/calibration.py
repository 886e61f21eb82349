"""Does the fitted temperature help on new photos? Held-out calibration error of trained models
with no temperature, with the temperature fitted on their validation split, and with the fit
this checkout makes, for several values of the fewest validation errors that allow a sharpening
(``min_errors`` of ``fit_temperature``; 0 is the plain fit) (docs/evaluation.md, "Calibration").

    python benchmarks/calibration.py [--work /tmp/resnet-gui-augment-bench]

It reads the models ``benchmarks/augment.py`` trained (``WORK/models/SET-ARM-SEED.keras``),
rebuilds each one's validation split (the same scan, split and seed as training), takes the
network's raw probabilities on the validation images and on the held-out ones
(``WORK/data/SET/test``: other parts of the photos, other scale or light), and prints per model
the validation errors, the temperatures and the held-out expected calibration error (ECE) and
negative log-likelihood (NLL) of each choice, then their means.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _probs(clf: object, folder: Path, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    from resnet_gui.core.data.pipeline import decode_many

    paths, labels = [], []
    for c, name in enumerate(names):
        files = sorted(p for p in (folder / name).glob("*") if p.is_file())
        paths += [str(f) for f in files]
        labels += [c] * len(files)
    x, _ = decode_many(paths, clf.image_size)
    return clf.predict_arrays(x, calibrated=False), np.array(labels)


def validation_probs(clf: object, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw probabilities on the model's validation split, rebuilt as training made it."""
    from resnet_gui.core.base.config import TrainConfig
    from resnet_gui.core.data.dataset import scan_dataset
    from resnet_gui.core.data.pipeline import decode_many
    from resnet_gui.core.data.split import stratified_split

    report = scan_dataset(clf.info["dataset"])
    _, va = stratified_split(report.labels, TrainConfig("").val_split, seed,
                             report.duplicate_groups())
    recs = [report.images[i] for i in va]
    x, _ = decode_many([r.path for r in recs], clf.image_size)
    return clf.predict_arrays(x, calibrated=False), np.array([r.label for r in recs])


def main() -> None:
    from resnet_gui.core.base.calibration import (
        apply_temperature,
        expected_calibration_error,
        fit_temperature,
        nll,
    )
    from resnet_gui.core.use.inference import Classifier

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="/tmp/resnet-gui-augment-bench")
    args = ap.parse_args()
    work = Path(args.work)
    rows = []
    thresholds = (0, 1, 3, 5)  # the fewest validation errors that allow T < 1 (0: the plain fit)
    print("| model | val errors / images | held-out acc | T at training | T: "
          + " / ".join(f"min {k}" for k in thresholds) + " | held-out ECE: T=1 / "
          + " / ".join(f"min {k}" for k in thresholds) + " | held-out NLL: same |")
    print("|---|---|---|---|---|---|---|")
    for path in sorted((work / "models").glob("*.keras")):
        name, _, seed = path.stem.rpartition("-")
        data = next(d for d in (work / "data").iterdir() if name.startswith(d.name + "-"))
        clf = Classifier.load(path)
        pv, yv = validation_probs(clf, int(seed))
        pt, yt = _probs(clf, data / "test", clf.class_names)
        t_then = float(clf.info.get("temperature") or 1.0)
        temps = [1.0] + [fit_temperature(pv, yv, min_errors=k) for k in thresholds]
        eces = [expected_calibration_error(apply_temperature(pt, t), yt) for t in temps]
        nlls = [nll(apply_temperature(pt, t), yt) for t in temps]
        errors = int((pv.argmax(1) != yv).sum())
        rows.append((eces, nlls))
        print(f"| {path.stem} | {errors} / {len(yv)} | {(pt.argmax(1) == yt).mean():.3f} | "
              f"{t_then:.2f} | " + " / ".join(f"{t:.2f}" for t in temps[1:]) + " | "
              + " / ".join(f"{e:.3f}" for e in eces) + " | "
              + " / ".join(f"{v:.3f}" for v in nlls) + " |", flush=True)
    if rows:
        e, n = np.mean([r[0] for r in rows], 0), np.mean([r[1] for r in rows], 0)
        worse = [sum(r[0][k] > r[0][0] + 1e-9 for r in rows) for k in range(1, len(e))]
        print(f"\nmean over {len(rows)} models, T=1 / "
              + " / ".join(f"min {k}" for k in thresholds) + ": ECE "
              + " / ".join(f"{v:.4f}" for v in e) + ", NLL " + " / ".join(f"{v:.4f}" for v in n)
              + "; held-out ECE worse than T=1 for " + " / ".join(str(w) for w in worse)
              + f" of {len(rows)} models")

if __name__ == "__main__":
    main()
