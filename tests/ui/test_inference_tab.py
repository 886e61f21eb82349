"""Inference tab: drop a model, images and folders; cards, errors, CSV; the 'open with' path."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from tests.core.badfiles import write_bad_and_odd
from tests.ui.conftest import drop


def test_drop_model_images_folder_and_non_image(
    qtbot, window, tiny_model: Path, tiny_data: Path, tmp_path: Path  # noqa: ANN001
) -> None:
    tab = window.inference_tab
    assert not tab.add_button.isEnabled()
    assert drop(tab, [tiny_model]) == (True, True)
    qtbot.waitUntil(lambda: tab.classifier is not None, timeout=60_000)
    assert "2 classes: china, flower" in tab.model_info.text()

    bad = write_bad_and_odd(tmp_path / "odd")
    notes = tmp_path / "notes.jpg"
    notes.write_text("not an image")
    images = sorted((tiny_data / "china").iterdir())[:2]
    assert drop(tab, [*images, tiny_data / "flower", notes]) == (True, True)
    expected = 2 + 6 + 1
    qtbot.waitUntil(lambda: len(tab.cards) == expected, timeout=60_000)
    by_name = {Path(c.result["path"]).name: c for c in tab.cards}
    assert by_name["notes.jpg"].top_label is None and by_name["notes.jpg"].bars == []
    # Each card shows what the model says of its photo: the same classes, the same order.
    truth = {Path(r.path).name: r for r in tab.classifier.predict(
        [str(p) for p in images] + [str(tiny_data / "flower")], top_k=2)}
    for name, card in by_name.items():
        if name == "notes.jpg":
            continue
        assert card.top_label == truth[name].labels[0], name
        shown = [(d["label"], d["probability"]) for d in card.result["predictions"]]
        assert [lab for lab, _ in shown] == truth[name].labels
        assert [p for _, p in shown] == pytest.approx(truth[name].probabilities, abs=1e-5)
    assert len(by_name[images[0].name].bars) == 2
    assert "1 could not be read" in tab.count_label.text()

    out = tmp_path / "results.csv"
    tab.export_csv(str(out))
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == expected and rows[-1]["error"].startswith("not an image")
    for row in rows[:-1]:
        top = truth[Path(row["path"]).name]
        assert row["label_1"] == top.labels[0]
        assert float(row["probability_1"]) == pytest.approx(top.probabilities[0], abs=1e-4)

    tab.clear()
    assert tab.cards == [] and not tab.export_button.isEnabled()

    # A folder of awkward files: each broken one is a named error card, the odd-but-valid
    # ones (CMYK, RGBA, 16-bit, ...) are classified, hidden files are not shown at all.
    assert drop(tab, [tmp_path / "odd"]) == (True, True)
    shown = [p for k, p in bad.items() if not p.name.startswith(".")]
    qtbot.waitUntil(lambda: len(tab.cards) == len(shown), timeout=60_000)
    by_name = {Path(c.result["path"]).name: c.result for c in tab.cards}
    assert set(by_name) == {p.name for p in shown}
    for kind in ("truncated", "empty", "text", "huge"):
        assert by_name[bad[kind].name]["error"], kind
    for kind in ("good_jpeg", "cmyk", "rgba"):
        assert by_name[bad[kind].name]["predictions"], kind


def test_corrupt_model_is_an_error_dialog(qtbot, window, tmp_path: Path) -> None:  # noqa: ANN001
    fake = tmp_path / "broken.keras"
    fake.write_bytes(b"PK\x03\x04 not really a zip")
    window.inference_tab.load_model(str(fake))
    qtbot.waitUntil(lambda: bool(window.dialogs), timeout=60_000)
    assert window.dialogs[0][0] == "Cannot load model"
    assert window.inference_tab.classifier is None


def test_open_with_command_line(qtbot, window, tiny_model: Path, tiny_data: Path) -> None:  # noqa: ANN001
    images = [str(p) for p in sorted((tiny_data / "flower").iterdir())[:3]]
    window.open_with(data=str(tiny_data), model=str(tiny_model), images=images)
    qtbot.waitUntil(lambda: window.training_tab.report is not None, timeout=30_000)
    qtbot.waitUntil(lambda: len(window.inference_tab.cards) == 3, timeout=60_000)
    assert window.tabs.currentWidget() is window.inference_tab
    assert str(tiny_model) in window.settings.value("recent/models")


def test_gui_arguments_parse() -> None:
    from resnet_gui.cli import _normalise_argv, build_parser

    args = build_parser().parse_args(_normalise_argv(["--data", "d", "--model", "m.keras", "a.jpg"]))
    assert (args.command, args.data, args.model, args.images) == ("gui", "d", "m.keras", ["a.jpg"])
    assert build_parser().parse_args(_normalise_argv(["--demo"])).demo
    assert build_parser().parse_args(_normalise_argv([])).command == "gui"
