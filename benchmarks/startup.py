"""Start-up: time until the main window is shown vs. `python -c "import tensorflow"`.

Both are whole fresh processes, measured side by side in one run (median of --repeat).
Target: window <= 1.5 s and <= 0.3x the TensorFlow import.

    .venv/bin/python benchmarks/startup.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time


def time_tensorflow_import() -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import tensorflow"], check=True,
                   capture_output=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return time.perf_counter() - t


def time_window_shown() -> float:
    """From process launch to the line the app prints right after window.show()."""
    env = {**os.environ, "RESNET_GUI_REPORT_STARTUP": "1", "RESNET_GUI_EXIT_AFTER_SHOW": "1"}
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "resnet_gui"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    shown = None
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("window shown"):
            shown = time.perf_counter() - t
    proc.wait(timeout=60)
    if shown is None:
        raise RuntimeError("the app did not report its window")
    return shown


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    tf_times, win_times = [], []
    for _ in range(args.repeat):  # interleaved, so both see the same machine load
        tf_times.append(time_tensorflow_import())
        win_times.append(time_window_shown())
    tf_s, win_s = statistics.median(tf_times), statistics.median(win_times)
    print(f"import tensorflow: median {tf_s:.2f} s  ({', '.join(f'{t:.2f}' for t in tf_times)})")
    print(f"window shown:      median {win_s:.2f} s  ({', '.join(f'{t:.2f}' for t in win_times)})")
    print(f"ratio window/tensorflow = {win_s / tf_s:.3f}  (target <= 0.3; window <= 1.5 s)")


if __name__ == "__main__":
    main()
