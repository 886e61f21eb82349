"""Which photos to label next (core/use/review.py): the order's parts, each able to fail, and the
``review`` command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from resnet_gui.core.use.review import review_order, typicality, uncertainty, unit_rows


def _clusters(rng: np.random.Generator, centres: np.ndarray, sizes: list[int],
              spread: float) -> tuple[np.ndarray, np.ndarray]:
    feats = np.concatenate([c + spread * rng.normal(size=(n, len(c)))
                            for c, n in zip(centres, sizes, strict=True)])
    which = np.concatenate([np.full(n, i) for i, n in enumerate(sizes)])
    return unit_rows(feats), which


def test_uncertainty_and_typicality() -> None:
    p = np.array([[0.5, 0.5, 0.0], [0.9, 0.05, 0.05], [0.6, 0.3, 0.1]])
    assert np.allclose(uncertainty(p), [1.0, 0.15, 0.7])
    rng = np.random.default_rng(0)
    feats, which = _clusters(rng, np.eye(8)[:2] * 5, [40, 1], 0.3)  # a crowd and a loner
    t = typicality(feats)
    assert t.max() == pytest.approx(1.0) and t[which == 1][0] < t[which == 0].min()


def test_the_order_covers_what_is_not_labelled_and_skips_near_copies() -> None:
    rng = np.random.default_rng(1)
    centres = np.eye(16)[:4] * 5
    feats, which = _clusters(rng, centres, [30, 30, 30, 30], 0.4)
    labelled, _ = _clusters(rng, centres[:2], [5, 5], 0.4)  # clusters 0 and 1 are labelled
    probs = np.full((len(feats), 2), 0.5)  # all equally uncertain
    order, gains = review_order(probs, feats, labelled)
    assert set(which[order[:2]]) == {2, 3}  # the first picks: the two uncovered clusters
    fresh, _ = review_order(probs, feats)  # nothing labelled: one per cluster first
    assert len(set(which[fresh[:4]])) == 4
    assert sorted(order) == list(range(len(feats))) and len(gains) == len(feats)
    # Uncertainty alone picks near-copies one after another; the app's order takes one.
    copies, _ = _clusters(rng, centres[3:], [10], 0.01)
    mixed = np.concatenate([feats, copies])
    probs = np.tile([0.95, 0.05], (len(mixed), 1))
    probs[np.flatnonzero(which == 2)] = [0.55, 0.45]  # uncertain, and different from each other
    probs[len(feats):] = [0.5, 0.5]  # the most uncertain, and all alike
    by_margin, _ = review_order(probs, mixed, labelled, method="margin")
    assert (by_margin[:10] >= len(feats)).all()
    app, _ = review_order(probs, mixed, labelled)
    assert (app[:6] >= len(feats)).sum() == 1


def test_review_command_json_csv_top_and_unreadable_files(
    tiny_model: Path, tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from resnet_gui.cli import main

    folder = tmp_path / "unlabelled"
    folder.mkdir()
    photos = sorted(tiny_data.rglob("*.jpg"))
    for k, p in enumerate(photos):
        shutil.copy(p, folder / f"{k:02d}.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    assert main(["review", str(tiny_model), str(folder), "--format", "json",
                 "--labelled", str(tiny_data)]) == 1
    out, err = capsys.readouterr()
    rows = json.loads(out)
    assert len(rows) == len(photos) and "broken.jpg" in err
    assert all(set(r) >= {"path", "predicted", "confidence", "score"} for r in rows)
    assert "broken.jpg" not in out and {r["predicted"] for r in rows} <= {"china", "flower"}
    assert sorted(r["path"] for r in rows) == sorted(str(p) for p in folder.glob("[0-9]*.jpg"))
    (folder / "broken.jpg").unlink()
    assert main(["review", str(tiny_model), str(folder), "--top", "3", "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "path,predicted,confidence,score" and len(lines) == 4
    (tmp_path / "empty").mkdir()
    assert main(["review", str(tiny_model), str(tmp_path / "empty")]) == 2
    assert "no images found" in capsys.readouterr().err


def test_labelled_images_are_those_of_the_class_folders(tiny_data: Path, tmp_path: Path) -> None:
    from resnet_gui.core.data.edits import DataSetEditor
    from resnet_gui.core.use.review import labelled_images

    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    gone = sorted((data / "china").iterdir())[0]
    DataSetEditor(data).remove([gone])
    found = labelled_images([data])
    assert len(found) == 11 and not any("_removed" in p for p in found)
    assert labelled_images([data / "flower"]) == sorted(str(p) for p in
                                                        (data / "flower").iterdir())


def test_the_clusters_order_spreads_picks_by_cluster_size_and_labels(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The "clusters" order (measured in docs/review.md, not the app's): a crowd the model is
    sure about still gets its share of picks, by its photos per label so far."""
    from resnet_gui.core.use import review

    rng = np.random.default_rng(2)
    centres = np.eye(16)[:3] * 5
    feats, which = _clusters(rng, centres, [50, 26, 27], 0.3)
    assign, units = review.kmeans(feats, 3)
    assert len(units) == 3 and all(len(set(assign[which == c])) == 1 for c in range(3))
    monkeypatch.setattr(review, "CLUSTERS_PER_CLASS", 1)  # 3 classes: the 3 clusters
    probs = np.tile([0.5, 0.5, 0.0], (len(feats), 1))
    probs[which == 0] = [0.98, 0.01, 0.01]  # sure of the crowd, unsure of the rest
    labelled, _ = _clusters(rng, centres[1:2], [2], 0.3)  # two labels in cluster 1
    order, gains = review_order(probs, feats, labelled, method="clusters")
    assert sorted(order) == list(range(len(feats))) and len(gains) == len(feats)
    # Photos per label: 50/(1+a), 26/(1+2+b), 27/(1+c) after a, b, c picks (no ties): the first
    # 12 picks are 7, 1 and 4. Uncertainty with novelty takes none of the crowd's first.
    assert np.bincount(which[order[:12]], minlength=3).tolist() == [7, 1, 4]
    margin, _ = review_order(probs, feats, labelled, method="margin-novel")
    assert (which[margin[:12]] == 0).sum() <= 1


def test_the_balanced_order_spreads_its_picks_over_the_predicted_classes() -> None:
    """The case of issue 38: a start model good on one class and torn between two others.
    The app's order (uncertainty first) pulls nearly every pick into the confused pair; the
    "balanced" order serves the predicted class with the fewest labels and picks so far, so the
    classes even out."""
    rng = np.random.default_rng(4)
    centres = np.eye(16)[:3] * 5
    feats, which = _clusters(rng, centres, [80, 80, 80], 0.6)
    probs = np.empty((len(feats), 3))
    probs[which == 0] = [0.55, 0.4, 0.05]  # classes 0 and 1 confused with each other
    probs[which == 1] = [0.4, 0.55, 0.05]
    probs[which == 2] = [0.03, 0.02, 0.95]  # class 2 known
    labelled, _ = _clusters(rng, centres, [4, 4, 4], 0.6)
    app, _ = review_order(probs, feats, labelled)
    assert np.bincount(which[app[:24]], minlength=3)[2] <= 2
    balanced, _ = review_order(probs, feats, labelled, labelled_classes=np.repeat([0, 1, 2], 4),
                               method="balanced")
    assert np.bincount(which[balanced[:24]], minlength=3).tolist() == [8, 8, 8]
    # Labels already lopsided (none of class 0, two each of 1 and 2): the first two picks go
    # to class 0, which has fewest.
    balanced, _ = review_order(probs, feats, labelled[4:8],
                               labelled_classes=np.array([1, 1, 2, 2]), method="balanced")
    assert which[balanced[:2]].tolist() == [0, 0]
    assert np.bincount(which[balanced[2:5]], minlength=3).tolist() == [1, 1, 1]  # then in turn


def test_review_counts_the_labelled_images_by_class_folder(
    tiny_model: Path, tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The labelled images reach the order with their classes (the "balanced" order evens the
    classes out against them): each counts for its class folder, also from a subfolder of it
    (as the scan reads it)."""
    from resnet_gui.core.use import review as review_module
    from resnet_gui.core.use.inference import Classifier

    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    nested = data / "flower" / "2019"
    nested.mkdir()
    for f in sorted((data / "flower").glob("*.jpg"))[:2]:
        f.rename(nested / f.name)
    (data / "stranger").mkdir()  # a class the model does not know
    shutil.copy(sorted((data / "china").glob("*.jpg"))[0], data / "stranger" / "x.jpg")
    seen: dict[str, np.ndarray] = {}
    real = review_module.review_order

    def spy(*args: object, **kwargs: object) -> tuple[np.ndarray, np.ndarray]:
        seen["classes"] = kwargs["labelled_classes"]  # type: ignore[assignment]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(review_module, "review_order", spy)
    clf = Classifier.load(tiny_model)
    items, errors = review_module.review(clf, [tiny_data / "china"], labelled=[data])
    assert len(items) == 6 and not errors
    names = clf.class_names
    counts = {names[c] if c >= 0 else "?": int(n)
              for c, n in zip(*np.unique(seen["classes"], return_counts=True), strict=True)}
    assert counts == {"china": 6, "flower": 6, "?": 1}
