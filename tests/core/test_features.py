"""The backbone-feature cache: reused across runs, only new images computed, bounded, clearable."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from resnet_gui.cli import main
from resnet_gui.core.features import FeatureCache
from resnet_gui.core.training import TrainConfig, train
from tests.conftest import write_tiny_classes


@pytest.fixture(scope="module")
def weights_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ResNet-50 weights file standing in for ImageNet weights (no network here)."""
    from resnet_gui.core.models import build_backbone

    path = tmp_path_factory.mktemp("w") / "resnet50.weights.h5"
    build_backbone("resnet50").save_weights(path)
    return path


def _run(data: Path, weights: Path, cache: Path, **kw: object) -> tuple[object, list[str]]:
    logs: list[str] = []
    res = train(
        TrainConfig(str(data), arch="resnet50", weights=str(weights), image_size=32, epochs=2,
                    batch_size=8, cache_dir=str(cache), **kw),
        on_log=lambda d: logs.append(d.get("message", "")),
    )
    return res, [m for m in logs if m.startswith("backbone features")]


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

    # The head trained on cached features is the head of the saved model: they agree.
    from resnet_gui.core.inference import Classifier

    clf = Classifier.from_model(second.model)
    assert clf.class_names == ["china", "flower"]


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
