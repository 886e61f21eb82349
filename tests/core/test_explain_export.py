"""Grad-CAM looks where the evidence is; every export format runs in its own runtime and agrees."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from resnet_gui.cli import main

SIZE, PATCH = 64, 20


def write_stripes(root: Path, per_class: int, seed: int) -> dict[str, list[tuple[int, int]]]:
    """Noise images in which only a 20 px patch of stripes carries the class (horizontal or
    vertical stripes), at a random place; returns each image's patch corner per class."""
    rng = np.random.default_rng(seed)
    corners: dict[str, list[tuple[int, int]]] = {}
    for cls in ("horizontal", "vertical"):
        (root / cls).mkdir(parents=True, exist_ok=True)
        corners[cls] = []
        for i in range(per_class):
            img = rng.integers(60, 196, (SIZE, SIZE, 3)).astype(np.uint8)
            y, x = (int(v) for v in rng.integers(0, SIZE - PATCH, 2))
            yy, xx = np.mgrid[0:PATCH, 0:PATCH]
            stripes = (yy // 3) % 2 if cls == "horizontal" else (xx // 3) % 2
            img[y : y + PATCH, x : x + PATCH] = (stripes[..., None] * 255).astype(np.uint8)
            Image.fromarray(img).save(root / cls / f"{i}.png")
            corners[cls].append((y, x))
    return corners


@pytest.fixture(scope="module")
def stripes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """(model, held-out folder, patch corners of the held-out images)."""
    from resnet_gui.core.base.config import TrainConfig
    from resnet_gui.core.train.training import train

    root = tmp_path_factory.mktemp("stripes")
    write_stripes(root / "train", 60, seed=0)
    corners = write_stripes(root / "test", 10, seed=1)
    res = train(TrainConfig(str(root / "train"), arch="resnet18", weights="none", image_size=SIZE,
                            epochs=8, batch_size=16, width=16, augment="none"))
    return res.save(root / "stripes.keras"), root / "test", corners


@pytest.mark.slow
def test_grad_cam_peak_falls_on_the_region_that_carries_the_class(stripes) -> None:
    from resnet_gui.core.use.explain import explain
    from resnet_gui.core.use.inference import Classifier

    model, test, corners = stripes
    clf = Classifier.load(model)
    hits = correct = total = 0
    for cls, boxes in corners.items():
        for i, (y, x) in enumerate(boxes):
            path = test / cls / f"{i}.png"
            correct += clf.predict([path])[0].labels[0] == cls
            heat = explain(clf, str(path), cls)
            assert heat.shape == (SIZE, SIZE) and heat.min() >= 0 and heat.max() <= 1
            py, px = np.unravel_index(int(np.argmax(heat)), heat.shape)
            margin = 4  # the map is 4x4 cells at 64 px: allow a few pixels of spill
            hits += (y - margin <= py < y + PATCH + margin) and (x - margin <= px < x + PATCH + margin)
            total += 1
    assert correct / total >= 0.8  # the model learned the task
    # The patch covers 10% of the image: a map that ignored it would hit about 1 in 5.
    assert hits / total >= 0.75, f"{hits}/{total} heat-map peaks inside the striped patch"


@pytest.mark.slow
def test_explain_cli_writes_overlay_and_heatmap(stripes, tmp_path: Path, capsys) -> None:
    model, test, _ = stripes
    one = test / "vertical" / "3.png"
    assert main(["explain", str(model), str(one), "--out", str(tmp_path / "a" / "v.png"),
                 "--heatmap", "--class", "vertical"]) == 0
    overlay = Image.open(tmp_path / "a" / "v.png")
    heat = Image.open(tmp_path / "a" / "v_heatmap.png")
    assert overlay.mode == "RGB" and overlay.size == (SIZE, SIZE)
    assert heat.mode == "L" and heat.size == (SIZE, SIZE) and np.asarray(heat).max() == 255
    assert main(["explain", str(model), str(test), "--out", str(tmp_path / "many")]) == 0
    assert len(list((tmp_path / "many").glob("*.png"))) == 20  # same names in two folders kept
    capsys.readouterr()
    assert main(["explain", str(model), str(one), "--out", str(tmp_path / "x.png"),
                 "--class", "diagonal"]) == 2
    assert "no class 'diagonal'" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("fmt", "name", "extra"),
    [("savedmodel", "sm", []), ("tflite", "m.tflite", []), ("onnx", "m.onnx", []),
     ("tflite", "q.tflite", ["--int8", "--calibration", "TRAIN"])],
)
def test_export_runs_in_its_own_runtime_and_agrees(
    stripes, fmt: str, name: str, extra: list[str], tmp_path: Path, capsys
) -> None:
    model, test, _ = stripes
    extra = [str(test.parent / "train") if e == "TRAIN" else e for e in extra]
    out = tmp_path / name
    status = main(["export", str(model), "--format", fmt, "--out", str(out),
                   "--check", str(test), *extra])
    text = capsys.readouterr().out
    assert status == 0, text
    line = [ln for ln in text.splitlines() if ln.startswith("agreement")][0]
    agreement = float(line.split()[1])
    max_dp = float(line.rsplit(" ", 1)[1])
    assert "(top-1, 20 images)" in line
    assert agreement >= (0.97 if extra else 0.99)
    assert max_dp < (0.1 if extra else 1e-4)  # float formats agree to rounding
    folder = out if fmt == "savedmodel" else out.parent
    card = json.loads((folder / "model_card.json").read_text())
    assert card["class_names"] == ["horizontal", "vertical"]
    batch = 1 if fmt == "tflite" else None  # LiteRT's graph takes one image per call
    assert card["input"]["shape"] == [batch, SIZE, SIZE, 3] and card["int8"] == bool(extra)
    assert card["check"]["images"] == 20 and card["check"]["passed"] is True
    assert (folder / "labels.txt").read_text() == "horizontal\nvertical\n"
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary left


def test_export_refuses_bad_targets_before_any_work(
    tiny_model: Path, tmp_path: Path, capsys
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cases = [
        (["--format", "savedmodel", "--out", str(folder)], "is not a SavedModel export"),
        (["--format", "tflite", "--out", str(tmp_path / "m.onnx")], "ending in .tflite"),
        (["--format", "onnx", "--out", str(blocker / "m.onnx")], "cannot create"),
        (["--format", "onnx", "--out", str(tmp_path / "m.onnx"), "--int8"], "tflite only"),
        (["--format", "tflite", "--out", str(tmp_path / "m.tflite"), "--int8"], "--calibration"),
        (["--format", "zip", "--out", str(tmp_path / "m.zip")], "invalid choice"),
    ]
    for args, needle in cases:
        assert main(["export", str(tiny_model), *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and needle in err, err
    assert [p.name for p in folder.iterdir()] == ["keep.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "photos"]


def test_savedmodel_export_replaces_an_earlier_one(tiny_model: Path, tmp_path: Path) -> None:
    from resnet_gui.core.use.export import export_model
    from resnet_gui.core.use.inference import Classifier

    clf = Classifier.load(tiny_model)
    out = tmp_path / "exported"
    # An earlier export, as export_model tells one (a saved_model.pb), with a file of its own:
    # one export instead of two (a SavedModel export takes seconds).
    (out / "variables").mkdir(parents=True)
    for name in ("saved_model.pb", "variables/variables.index", "old-marker"):
        (out / name).write_text("from the first export")
    export_model(clf, "savedmodel", out)
    assert not (out / "old-marker").exists()
    for name in ("saved_model.pb", "variables/variables.index"):
        assert (out / name).read_bytes() != b"from the first export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exported"]
