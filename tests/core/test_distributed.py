"""Scale-out on tf.distribute (docs/scaling.md): two workers on loopback through the CLI, a
killed worker, resuming a multi-worker run, MirroredStrategy on two logical CPU devices, and the
custom loop giving the same losses as Keras fit.

The commands here are the ones docs/scaling.md shows.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from resnet_gui.core.base.config import TrainConfig
from tests.core.test_early_stopping import _crops

CLI = [sys.executable, "-m", "resnet_gui"]
FLAGS = ["--epochs", "6", "--width", "8", "--seed", "3"]
FIXED_EPOCHS = ["--epochs", "3", "--width", "8", "--seed", "3"]
# The recipe's epoch ceiling, early stopping on. Batches of 8, not 32: with 63 images a batch of
# 32 makes 2 steps an epoch, and a plateau counts only after 60 steps (schedule.MIN_STEPS), so
# the resumed run went to epoch 41; with 8 steps an epoch it stops at 13 (161 s for the test
# alone instead of 200 s). Patience 2 instead of the recipe's 6, for the same reason.
AUTO_EPOCHS = ["--width", "8", "--seed", "3", "--patience", "2", "--batch-size", "8"]
# Scripts that split the CPU into two logical devices import TensorFlow the app's way, with its
# environment (oneDNN off): with oneDNN on, fit crashed there (docs/scaling.md, "N GPUs on one machine").
APP_TENSORFLOW = ("from resnet_gui.core.base.tfsetup import import_tensorflow\n"
                  "tf = import_tensorflow()\n")


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _tf_config(ports: list[int], index: int) -> str:
    return json.dumps({"cluster": {"worker": [f"localhost:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


def _start_workers(data: Path, out: Path, logs: Path, *extra: str,
                   flags: list[str] = FLAGS) -> list[subprocess.Popen]:
    """Two workers of one run, as two machines would start them: the same command, each with
    its own TF_CONFIG."""
    ports = _free_ports(2)
    procs = []
    for i in range(2):
        env = {**os.environ, "TF_CONFIG": _tf_config(ports, i)}
        log = open(logs / f"worker{i}.log", "w")  # noqa: SIM115 - closed with the process
        procs.append(subprocess.Popen(
            [*CLI, "train", str(data), "--out", str(out), "--strategy", "multiworker", *flags,
             *extra], env=env, stdout=log, stderr=subprocess.STDOUT, text=True))
    return procs


def _wait(procs: list[subprocess.Popen], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    codes = []
    for p in procs:
        try:
            codes.append(p.wait(timeout=max(1.0, deadline - time.monotonic())))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("a worker hung")
    return codes


def _wait_for_line(chief: subprocess.Popen, log: Path, text: str) -> None:
    """Wait (at most 300 s) until the running chief's log shows ``text``; on failure, show
    every worker's log (the hung-worker test failed once with the chief's "lost contact"
    before the other worker was stopped, and that worker's log was gone)."""
    deadline = time.monotonic() + 300
    while text not in log.read_text():
        assert time.monotonic() < deadline and chief.poll() is None, "\n".join(
            f"--- {f.name}\n{f.read_text()[-3000:]}" for f in sorted(log.parent.glob("worker*.log")))
        time.sleep(0.2)


def _accuracy(model: Path, held_out: Path) -> float:
    from resnet_gui.core.use.evaluation import evaluate
    from resnet_gui.core.use.inference import Classifier

    return evaluate(Classifier.load(model), held_out).accuracy


@pytest.fixture(scope="module")
def photo_sets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("dist")
    train = _crops(root / "train", 40, seed=1)
    (train / "flower" / "0.jpg").unlink()  # 63 images: the last global batch splits 16/15
    return train, _crops(root / "held_out", 30, seed=2)


@pytest.fixture(scope="module")
def larger_sets(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Several hundred photo crops: 299 (239 to train on after the validation split: the last
    global batch of each epoch is short and splits unevenly), 120 held out."""
    root = tmp_path_factory.mktemp("dist-larger")
    train = _crops(root / "train", 150, seed=5)
    (train / "china" / "0.jpg").unlink()
    return train, _crops(root / "held_out", 60, seed=6)


def _epoch_losses(log: str) -> list[float]:
    return [float(m[1]) for m in re.finditer(r"epoch +\d+/\d+ +loss ([\d.]+)", log)]


@pytest.mark.slow
def test_two_workers_train_like_one_process(larger_sets: tuple[Path, Path],
                                            tmp_path: Path) -> None:
    """Same data, settings and seed: the two workers' run is the one process's run, epoch by
    epoch (same global batches, BatchNorm over the global batch), not only a model as good.
    (The automatic recipe's run on two workers, with early stopping, is the resume test's;
    benchmarks/multiworker.py compares it with one process: docs/scaling.md.)"""
    flags = FIXED_EPOCHS
    data, held_out = larger_sets
    single = tmp_path / "single.keras"
    done = subprocess.run([*CLI, "train", str(data), "--out", str(single), "--strategy", "one",
                           *flags], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    out_dir = tmp_path / "multi"
    out_dir.mkdir()
    procs = _start_workers(data, out_dir / "model.keras", tmp_path, flags=flags)
    assert _wait(procs, 900) == [0, 0], (tmp_path / "worker0.log").read_text()[-3000:]
    chief = (tmp_path / "worker0.log").read_text()
    other = (tmp_path / "worker1.log").read_text()
    assert "strategy multiworker: 2 workers, 2 replicas in all; global batch 32, 16 per " \
           "replica; this is worker 0 (the chief" in chief
    assert "worker 1: its slice of every global batch of the 239 training images, and 30 " \
           "validation images" in other
    assert "the chief worker saves the model" in other
    assert [p.name for p in out_dir.iterdir()] == ["model.keras"]  # only the chief wrote
    alone, together = _epoch_losses(done.stderr), _epoch_losses(chief)
    assert len(alone) == 3 and len(together) == 3, (done.stderr[-2000:], chief[-2000:])
    np.testing.assert_allclose(together, alone, atol=2e-3)
    a_single, a_multi = _accuracy(single, held_out), _accuracy(out_dir / "model.keras", held_out)
    assert a_multi >= 0.8, a_multi
    assert abs(a_multi - a_single) <= 0.02, (a_single, a_multi)


@pytest.mark.slow
def test_workers_with_other_images_stop_before_training(photo_sets: tuple[Path, Path],
                                                         tmp_path: Path) -> None:
    """Two machines with different copies of the data (one photo replaced by another of the
    same name) would slice different global batches: both stop, with the reason, at once."""
    data, _ = photo_sets
    copies = [tmp_path / "a", tmp_path / "b"]
    for copy in copies:
        shutil.copytree(data, copy)
    changed = sorted((copies[1] / "china").glob("*.jpg"))[0]
    shutil.copyfile(sorted((copies[1] / "china").glob("*.jpg"))[1], changed)
    ports, procs = _free_ports(2), []
    for i, copy in enumerate(copies):
        env = {**os.environ, "TF_CONFIG": _tf_config(ports, i)}
        procs.append(subprocess.Popen(
            [*CLI, "train", str(copy), "--out", str(tmp_path / f"m{i}.keras"), "--strategy",
             "multiworker", *FLAGS], env=env, stderr=subprocess.PIPE, text=True))
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [2, 2], errors
    for text in errors:
        assert "the workers do not hold the same training images (1 of 2 differ" in text, text
        assert "epoch   1/" not in text and "Traceback" not in text


def test_each_replica_gets_its_slice_of_the_global_batch() -> None:
    """Batches of 5 and of 1 over 4 replicas, 2 per worker: worker 1 keeps replicas 2 and 3's
    rows, each with the global count (a replica may get none of a short batch)."""
    from resnet_gui.core.base.tfsetup import import_tensorflow
    from resnet_gui.core.train.distributed import replica_slices

    tf = import_tensorflow()

    x = tf.reshape(tf.range(6, dtype=tf.float32), (6, 1))
    ds = tf.data.Dataset.from_tensor_slices((x, x)).batch(5)  # a batch of 5, then one of 1
    ctx = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1,
                                     num_replicas_in_sync=4)
    got = [(xs.numpy().ravel().tolist(), int(n)) for xs, _, n in replica_slices(ds, ctx)]
    assert got == [([2.0], 5), ([3.0, 4.0], 5), ([], 1), ([5.0], 1)]


@pytest.mark.slow
def test_batchnorm_uses_the_global_batch_across_replicas(tmp_path: Path) -> None:
    """Zeros on one replica and tens on the other: synchronised, BatchNorm normalises them to
    -1 and +1 (global mean 5, deviation 5); each replica on its own gives 0."""
    script = tmp_path / "sync.py"
    script.write_text(
        "import numpy as np\n"
        f"{APP_TENSORFLOW}"
        "cpu = tf.config.list_physical_devices('CPU')[0]\n"
        "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()"
        "] * 2)\n"
        "from resnet_gui.core.model.build import keras_module\n"
        "from resnet_gui.core.train.distributed import synchronise_batchnorm\n"
        "keras = keras_module()\n"
        "strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])\n"
        "with strategy.scope():\n"
        "    model = keras.Sequential([keras.Input((2, 2, 1)),\n"
        "                              keras.layers.BatchNormalization(epsilon=1e-6)])\n"
        "values = strategy.experimental_distribute_values_from_function(\n"
        "    lambda ctx: tf.fill((2, 2, 2, 1), 10.0 * ctx.replica_id_in_sync_group))\n"
        "def run():\n"
        "    step = tf.function(lambda v: strategy.run(lambda x: model(x, training=True),\n"
        "                                              args=(v,)))\n"
        "    out = step(values)\n"
        "    return [float(tf.reduce_mean(t)) for t in strategy.experimental_local_results(out)]\n"
        "print('own', run())\n"
        "assert len(synchronise_batchnorm(model)) == 1\n"
        "print('synced', run())\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=300, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert json.loads(lines["own"]) == pytest.approx([0.0, 0.0], abs=1e-3)
    assert json.loads(lines["synced"]) == pytest.approx([-1.0, 1.0], abs=1e-3)


@pytest.mark.slow
def test_a_killed_worker_stops_the_other_and_the_run_resumes(
    photo_sets: tuple[Path, Path], tmp_path: Path
) -> None:
    data, held_out = photo_sets
    out = tmp_path / "model.keras"
    procs = _start_workers(data, out, tmp_path, flags=AUTO_EPOCHS)
    chief_log = tmp_path / "worker0.log"
    _wait_for_line(procs[0], chief_log, "epoch   3/60")
    procs[1].send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    assert _wait(procs[:1], 180) == [2]
    assert time.monotonic() - killed_at < 150  # noticed at once (connection reset), no hang
    text = chief_log.read_text()
    assert "worker 0: lost contact with another worker" in text and "--resume" in text
    assert "Traceback" not in text
    assert not out.exists()

    logs = tmp_path / "again"
    logs.mkdir()
    procs = _start_workers(data, out, logs, "--resume", flags=AUTO_EPOCHS)
    assert _wait(procs, 600) == [0, 0], (logs / "worker0.log").read_text()[-3000:]
    logs_text = [(logs / f"worker{i}.log").read_text() for i in range(2)]
    for text in logs_text:
        assert "resuming from epoch " in text
    # one plan on both workers: the recipe counted every worker's images
    plans = [[ln for ln in t.splitlines() if " training and " in ln and "classes;" in ln]
             for t in logs_text]
    assert plans[0] == plans[1] and "63 training and 16 validation images" in plans[0][0]
    resumed = logs_text[0]
    first = int(resumed.split("resuming from epoch ")[1].split()[0])
    assert first >= 3 and f"epoch {first + 1:>3}/" in resumed
    assert f"epoch {first:>3}/" not in resumed  # the done epochs were not run again
    assert "stopped early at epoch" in resumed  # early stopping works across workers too
    assert _accuracy(out, held_out) >= 0.85


@pytest.mark.slow
def test_a_hung_worker_is_noticed_without_a_collective_timeout(
    photo_sets: tuple[Path, Path], tmp_path: Path
) -> None:
    """A worker that stops answering (SIGSTOP: a frozen machine) is noticed by the
    coordination service's heartbeats: the other one stops with the one-line message."""
    data, _ = photo_sets
    procs = _start_workers(data, tmp_path / "m.keras", tmp_path)
    chief_log = tmp_path / "worker0.log"
    _wait_for_line(procs[0], chief_log, "epoch   2/")
    procs[1].send_signal(signal.SIGSTOP)
    try:
        stopped_at = time.monotonic()
        assert _wait(procs[:1], 120) == [2]
        assert time.monotonic() - stopped_at < 60  # 9 s measured
    finally:
        procs[1].kill()
        procs[1].wait()
    assert "worker 0: lost contact with another worker" in chief_log.read_text()


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus(photo_sets: tuple[Path, Path],
                                               tmp_path: Path) -> None:
    data, held_out = photo_sets
    out = tmp_path / "m.keras"
    script = (
        "import sys\n"
        f"{APP_TENSORFLOW}"
        "cpu = tf.config.list_physical_devices('CPU')[0]\n"
        "tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()"
        "] * 2)\n"
        "from resnet_gui.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script, "train", str(data), "--out", str(out),
                           "--strategy", "mirrored", *FLAGS],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert ("strategy mirrored: 2 replicas on this machine; global batch 32, 16 per replica"
            in done.stderr)
    assert _accuracy(out, held_out) >= 0.85


@pytest.mark.slow
def test_custom_loop_gives_the_losses_of_fit(photo_sets: tuple[Path, Path],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The multi-worker loop, run on one device, against Keras fit: same data, seed, model,
    loss, optimizer and schedule, so the same losses epoch by epoch."""
    from resnet_gui.core.train import distributed
    from resnet_gui.core.train.training import train

    data, _ = photo_sets
    config = TrainConfig(str(data), weights="none", epochs=3, width=8, augment="none",
                         strategy="one", checkpoints=False)
    by_fit = train(config).history
    monkeypatch.setattr(distributed.Cluster, "custom_loop", property(lambda self: True))
    by_loop = train(config).history
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"):
        np.testing.assert_allclose([h[key] for h in by_loop], [h[key] for h in by_fit],
                                   rtol=2e-4, atol=1e-6, err_msg=key)


@pytest.mark.slow
def test_custom_loop_weighs_the_classes_as_fit_does(photo_sets: tuple[Path, Path],
                                                    tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Classes of unequal size (40 and 10 images) with ``--class-balance weights``: Keras fit
    and the multi-worker loop weigh them alike, and the weights change the training."""
    from resnet_gui.core.train import distributed
    from resnet_gui.core.train.training import train

    data = tmp_path / "unequal"
    shutil.copytree(photo_sets[0], data)
    for f in sorted((data / "flower").iterdir())[10:]:
        f.unlink()
    config = TrainConfig(str(data), weights="none", epochs=2, width=8, augment="none",
                         strategy="one", checkpoints=False, class_balance="weights")
    weighed = train(config)
    assert weighed.plan.class_balance == "weights"
    config.class_balance = "auto"  # the default: not weighted, and the log says so
    plain = train(config)
    assert plain.plan.class_balance == "none"
    assert any("not weighted" in note for note in plain.plan.notes)
    assert abs(weighed.history[0]["loss"] - plain.history[0]["loss"]) > 1e-3
    config.class_balance = "weights"
    monkeypatch.setattr(distributed.Cluster, "custom_loop", property(lambda self: True))
    by_loop = train(config).history
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose([h[key] for h in by_loop],
                                   [h[key] for h in weighed.history],
                                   rtol=2e-4, atol=1e-6, err_msg=key)


def test_multiworker_without_tf_config_is_one_line(tmp_path: Path) -> None:
    from resnet_gui.core.base.errors import TrainingError
    from resnet_gui.core.train.distributed import read_tf_config

    with pytest.raises(TrainingError, match="needs TF_CONFIG set on every worker"):
        read_tf_config({})
    with pytest.raises(TrainingError, match="not a valid cluster description"):
        read_tf_config({"TF_CONFIG": '{"cluster": {"worker": ["a:1"]}, "task": {"type": '
                                     '"worker", "index": 3}}'})
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    done = subprocess.run([*CLI, "train", str(tmp_path), "--out", str(tmp_path / "m.keras"),
                           "--strategy", "multiworker"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("resnet-gui: error: --strategy "
                                                             "multiworker needs TF_CONFIG")
