"""One process against two workers on loopback, same data, settings and seed (docs/scaling.md).

    python benchmarks/multiworker.py [--epochs 4] [--seed 1] [--per-class 330] [--work DIR]
                                     [--yardstick] [--reuse]

Builds a set of real texture photos (3 classes of scikit-image textures, crops of many scales,
64 px), trains it with ``resnet-gui train`` once in one process and once as two workers of a
``--strategy multiworker`` run (TF_CONFIG on localhost), and prints each run's per-epoch loss,
validation figures and learning rate side by side, then the held-out accuracy of both models.
``--epochs 0`` uses the recipe's automatic epochs. ``--yardstick`` adds a third run, one process
with one TensorFlow thread per op: the same computation rounded in another order, which shows
how far two runs of one process drift apart from rounding alone. The last line (``RESULT``) is
the figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from recipe import _crops, _photos, _save  # noqa: E402

CLI = [sys.executable, "-m", "resnet_gui"]


def make_textures(root: Path, per_class: int) -> None:
    """Brick, grass and gravel: ``per_class`` training crops from the left 60 % of each photo,
    ``per_class // 3`` held-out crops from the right 40 %."""
    rng = np.random.default_rng(7)
    for name, img in _photos(["brick", "grass", "gravel"]).items():
        for i, c in enumerate(_crops(img, per_class, 64, rng, (0, 0.6), (0.1, 0.4))):
            _save(c, root / "train" / name / f"{i:03d}.jpg")
        for i, c in enumerate(_crops(img, per_class // 3, 64, rng, (0.6, 1), (0.1, 0.4))):
            _save(c, root / "test" / name / f"{i:03d}.jpg")


def _ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def train(data: Path, out: Path, flags: list[str], workers: int) -> tuple[float, str]:
    """Train with ``workers`` processes (1: no strategy; 0: no strategy, one TensorFlow thread
    per op: the same arithmetic summed in another order); returns seconds and the chief's log."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    if workers == 0:
        env["TF_NUM_INTRAOP_THREADS"] = "1"
    started = time.perf_counter()
    if workers <= 1:
        done = subprocess.run([*CLI, "train", str(data), "--out", str(out), *flags], env=env,
                              capture_output=True, text=True, cwd=ROOT)
        if done.returncode:
            raise SystemExit(done.stderr[-3000:])
        return time.perf_counter() - started, done.stdout + done.stderr
    ports, procs = _ports(workers), []
    for i in range(workers):
        tf_config = {"cluster": {"worker": [f"localhost:{p}" for p in ports]},
                     "task": {"type": "worker", "index": i}}
        procs.append(subprocess.Popen(
            [*CLI, "train", str(data), "--out", str(out), "--strategy", "multiworker", *flags],
            env={**env, "TF_CONFIG": json.dumps(tf_config)}, cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    logs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit("\n".join(log[-2000:] for log in logs))
    return time.perf_counter() - started, logs[0]


def evaluate(model: Path, test: Path) -> float:
    """Held-out accuracy of ``model`` on ``test`` (a class-per-folder tree)."""
    done = subprocess.run([*CLI, "evaluate", str(model), str(test), "--format", "json"],
                          capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    return float(json.loads(done.stdout)["accuracy"])


def epoch_lines(log: str) -> list[str]:
    """The per-epoch lines of a training log."""
    return [line.strip() for line in log.splitlines() if re.match(r"\s*epoch\s+\d+/", line)
            and "loss" in line]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=4, help="0: the recipe's automatic epochs")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--per-class", type=int, default=330)
    ap.add_argument("--work", default="/tmp/resnet-gui-multiworker-bench")
    ap.add_argument("--flags", default="", help="more training flags for both runs")
    ap.add_argument("--yardstick", action="store_true",
                    help="also train one process with one thread per op: how far the same run "
                         "drifts from float rounding alone")
    ap.add_argument("--reuse", action="store_true",
                    help="keep the runs already in --work (delete a run's folder to redo it "
                         "after changing its code)")
    args = ap.parse_args()
    work = Path(args.work)
    data = work / f"textures-{args.per_class}"
    if not (data / "train").exists():
        make_textures(data, args.per_class)
    flags = ["--seed", str(args.seed), *args.flags.split()]
    if args.epochs:
        flags += ["--epochs", str(args.epochs)]
    tag = f"e{args.epochs}-s{args.seed}"  # a run's folder: --reuse keeps only the same run
    if args.per_class != 330 or args.flags:
        import hashlib

        tag += "-" + hashlib.sha1(f"{args.per_class} {args.flags}".encode()).hexdigest()[:8]
    results = {}
    for workers in (1, 2, 0) if args.yardstick else (1, 2):
        model = work / f"{tag}-{workers or '1t'}w" / "model.keras"
        model.parent.mkdir(parents=True, exist_ok=True)
        saved = model.parent / "chief.log"
        if args.reuse and model.exists() and saved.with_suffix(".json").exists():
            seconds, log = float(json.loads(saved.with_suffix(".json").read_text())), \
                saved.read_text()
        else:
            seconds, log = train(data / "train", model, flags, workers)
            saved.write_text(log)
            saved.with_suffix(".json").write_text(json.dumps(seconds))
        results[workers] = (seconds, evaluate(model, data / "test"), epoch_lines(log))
    names = {1: "one process", 2: "two workers", 0: "one process, one thread per op"}
    for workers, (seconds, acc, lines) in results.items():
        print(f"\n{names[workers]}: held-out accuracy {acc:.3f}, {seconds:.0f} s")
        print("\n".join(lines))
    gap = results[1][1] - results[2][1]
    print(f"\none process {results[1][1]:.3f}, two workers {results[2][1]:.3f}: "
          f"gap {100 * gap:+.1f} points")
    if 0 in results:
        drift = results[1][1] - results[0][1]
        print(f"one process {results[1][1]:.3f}, with one thread per op {results[0][1]:.3f}: "
              f"gap {100 * drift:+.1f} points (the drift of rounding alone)")
    print("RESULT " + json.dumps({"epochs": args.epochs, "seed": args.seed, **{
        names[w]: {"accuracy": round(r[1], 4), "seconds": round(r[0])}
        for w, r in results.items()}}))


if __name__ == "__main__":
    main()
