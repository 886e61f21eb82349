"""The backbone-feature cache: reused across runs, only new images computed, bounded, clearable."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from resnet_gui.cli import main
from resnet_gui.core.base.config import TrainConfig
from resnet_gui.core.train.features import FeatureCache
from resnet_gui.core.train.training import train
from tests.conftest import write_tiny_classes

#: The backbone the weights file is for. The cache works the same for any pretrained backbone;
#: a narrow ResNet-18 instead of ResNet-50 spares each test ResNet-50's build and trace (the
#: head test took 12 s, 2-3 s with this). ResNet-50's own weights file is test_training's.
ARCH = {"arch": "resnet18", "width": 8}


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A weights file standing in for ImageNet weights (no network here)."""
    from resnet_gui.core.model.build import build_backbone

    path = tmp_path_factory.mktemp("w") / "resnet18.weights.h5"
    build_backbone(ARCH["arch"], width=ARCH["width"]).save_weights(path)
    return path


def _run(data: Path, weights: Path, cache: Path, **kw: object) -> tuple[object, list[str]]:
    logs: list[str] = []
    res = train(
        TrainConfig(str(data), **ARCH, weights=str(weights), image_size=32, epochs=2,
                    batch_size=8, cache_dir=str(cache), **kw),
        on_log=lambda d: logs.append(d.get("message", "")),
    )
    return res, [m for m in logs if m.startswith("backbone features")]


@pytest.mark.slow
def test_features_computed_once_and_reused(weights_file: Path, tmp_path: Path) -> None:
    data = write_tiny_classes(tmp_path / "data", n=10)
    cache = tmp_path / "cache"
    first, log1 = _run(data, weights_file, cache)
    assert log1 and log1[0].startswith("backbone features: 20 computed, 0 from the cache")
    second, log2 = _run(data, weights_file, cache)
    assert log2[0].startswith("backbone features: 0 computed, 20 from the cache")
    assert [h["loss"] for h in first.history] == pytest.approx([h["loss"] for h in second.history])

    # One more image: only it is computed.
    src = sorted((data / "china").iterdir())[0]
    flipped = np.asarray(Image.open(src))[::-1].copy()
    Image.fromarray(flipped).save(data / "china" / "new.png")
    _, log3 = _run(data, weights_file, cache)
    assert log3[0].startswith("backbone features: 1 computed, 20 from the cache")

    from resnet_gui.core.use.inference import Classifier

    assert Classifier.from_model(second.model).class_names == ["china", "flower"]


def test_head_trained_on_features_is_the_saved_models_head(
    weights_file: Path, tmp_path: Path
) -> None:
    """The full model, given the head's weights, predicts what the head predicts from cached
    features (float16 storage aside)."""
    from resnet_gui.core.data import pipeline
    from resnet_gui.core.data.dataset import scan_dataset
    from resnet_gui.core.train.features import cached_feature_datasets, copy_head_weights
    from resnet_gui.core.train.recipe import make_plan
    from resnet_gui.core.train.runner import build_for_plan

    data = write_tiny_classes(tmp_path / "data", n=4)
    report = scan_dataset(data)
    config = TrainConfig(str(data), **ARCH, weights=str(weights_file), image_size=32,
                         batch_size=8, augment="none", cache_dir=str(tmp_path / "cache"))
    plan = make_plan(config, report, len(report.images), lambda d: None)
    model, _ = build_for_plan(plan, report.classes)
    x, _ = pipeline.decode_many(report.paths, plan.image_size)
    y = report.labels
    hashes = [r.sha1 for r in report.images]
    head, _, val_ds = cached_feature_datasets(
        model, plan, None, x, x, y, y, hashes, hashes, views=0, seed=0, cache_dir=config.cache_dir,
        say=lambda m: None, should_stop=lambda: False,
    )
    # A zero head first: the model then says 50:50 for every photo, whatever its random start.
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])
    copy_head_weights(head, model)
    before = np.asarray(model.predict(x.astype(np.float32), verbose=0))
    rng = np.random.default_rng(3)
    head.set_weights([rng.normal(0, 0.5, w.shape).astype(np.float32) for w in head.get_weights()])
    features = np.concatenate([np.asarray(f) for f, _ in val_ds])
    copy_head_weights(head, model)
    expected = np.asarray(head.predict(features, verbose=0))
    assert 0.02 < expected.min() and expected.max() < 0.98  # not saturated: differences show
    after = np.asarray(model.predict(x.astype(np.float32), verbose=0))
    assert np.abs(after - expected).max() < 5e-3
    assert np.abs(before - expected).max() > 5e-2  # the copy changed the model


@pytest.mark.slow
def test_views_and_key_change_recompute(weights_file: Path, tmp_path: Path) -> None:
    data = write_tiny_classes(tmp_path / "data", n=4)
    cache = tmp_path / "cache"
    _run(data, weights_file, cache)
    _, log = _run(data, weights_file, cache, feature_views=2, augment="flip")
    # Training images get new (3-view) entries; validation features are shared.
    assert log[0].startswith("backbone features: 6 computed, 2 from the cache")
    files, size = FeatureCache(cache / "features").usage()
    assert files == 8 + 6 and size > 0


def test_prune_and_clear(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path, max_bytes=3000)
    for i in range(5):
        cache.put("k", f"{i:040d}", np.zeros((1, 256), np.float16))  # ~640 bytes each
    assert cache.usage()[0] == 5
    cache.prune()
    n, size = cache.usage()
    assert n == 4 and size <= 3000
    assert cache.get("k", f"{0:040d}") is None  # the oldest went first
    assert cache.clear()[0] == 4 and cache.usage() == (0, 0)


def _dead_pid() -> int:
    """The pid of a process that has ended."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_killed_writers_leftovers_are_counted_pruned_and_cleared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = FeatureCache(tmp_path, max_bytes=10**9)
    cache.put("k", "a" * 40, np.ones((1, 64), np.float16))
    leftover = tmp_path / "k" / "bb" / f".{'b' * 40}.{_dead_pid()}.tmp.npy"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"\x93NUMPY half an array")
    assert cache.usage()[0] == 2  # it takes space: it is counted
    assert cache.prune() == 0  # within the bound: nothing pruned...
    cache.max_bytes = 1  # ...until the bound is tight: the leftover goes first
    assert cache.prune() >= 1 and not leftover.exists()
    leftover.write_bytes(b"\x93NUMPY half an array")
    cache.max_bytes = 10**9
    assert cache.clear()[0] >= 1 and cache.usage() == (0, 0)
    assert not any(tmp_path.rglob("*"))  # folders too

    # A write interrupted in this process leaves no temporary file at all.
    def interrupted(path: object, *args: object, **kwargs: object) -> None:
        Path(str(path)).write_bytes(b"\x93NUMPY half")
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cache.put("k", "c" * 40, np.ones((1, 64), np.float16))
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_cli_cache_info_and_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RESNET_GUI_CACHE", str(tmp_path))
    FeatureCache().put("k", "a" * 40, np.ones((1, 8), np.float16))
    assert main(["cache", "info"]) == 0
    assert "1 files" in capsys.readouterr().out
    assert main(["cache", "clear"]) == 0
    assert "removed 1 cached feature files" in capsys.readouterr().out
    assert FeatureCache().usage() == (0, 0)
    shutil.rmtree(tmp_path, ignore_errors=True)
