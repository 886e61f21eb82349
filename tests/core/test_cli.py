"""The command line: exact interface, one-line errors with status 2, JSON/CSV outputs."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from resnet_gui.cli import main
from tests.conftest import cli_without_tensorflow
from tests.core.badfiles import write_bad_and_odd


def test_scan_table_and_json(digits_train: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", str(digits_train)]) == 0
    out = capsys.readouterr().out
    assert "10 classes, 400 usable images" in out
    assert main(["scan", str(digits_train), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counts"]["7"] == 40 and data["unusable"] == []


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["scan", "/no/such/folder"], "does not exist"),
        (["train", "/no/such/folder", "--out", "m.keras"], "does not exist"),
        (["train", ".", "--out", "m.h5"], "--out must end in .keras"),
        (["train", ".", "--out", "m.keras", "--val-split", "1.5"], "between 0 and 1"),
        (["train", ".", "--out", "m.keras", "--arch"], "expected one argument"),
        (["predict", "/no/model.keras", "x.jpg"], "model file not found"),
        (["evaluate", "/no/model.keras", "."], "model file not found"),
        (["frobnicate-extra", "--nope"], "unrecognized arguments"),
    ],
)
def test_usage_and_data_errors_are_one_line(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("resnet-gui: error:")
    assert needle in err
    assert "Traceback" not in err


def test_not_a_model_exits_2(tmp_path: Path) -> None:
    """Said at once: in a process that never imports TensorFlow (seconds)."""
    fake = tmp_path / "fake.keras"
    fake.write_text("not a model")
    for command in ("predict", "evaluate"):
        done = cli_without_tensorflow(command, str(fake), str(tmp_path))
        assert done.returncode == 2, done.stderr
        assert "not a Keras model file" in done.stderr and done.stderr.count("\n") == 1


@pytest.mark.slow
def test_predict_json_csv_and_failed_inputs(
    digits_model: Path, digits_heldout: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = sorted((digits_heldout / "3").iterdir())[0]
    broken = write_bad_and_odd(tmp_path / "bad")["truncated"]
    assert main(["predict", str(digits_model), str(one), "--format", "json", "--top-k", "2"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0]["path"] == str(one) and data[0]["error"] is None
    assert [p["label"] for p in data[0]["predictions"]][0] == "3"
    assert len(data[0]["predictions"]) == 2

    status = main(["predict", str(digits_model), str(one), str(broken), "--format", "csv"])
    assert status == 1
    captured = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(captured.out)))
    assert rows[0]["label_1"] == "3" and rows[1]["error"].startswith("truncated")
    assert "1 of 2 input(s) could not be classified" in captured.err


@pytest.mark.slow
def test_evaluate_json(
    digits_model: Path, digits_heldout: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = tmp_path / "heldout"
    shutil.copytree(digits_heldout, data_dir)
    misfiled = data_dir / "8" / "misfiled_zero.png"  # a zero filed as an eight
    sorted((data_dir / "0").iterdir())[0].rename(misfiled)
    assert main(["evaluate", str(digits_model), str(data_dir), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"accuracy", "classes", "per_class", "confusion_matrix", "misclassified"}
    assert data["classes"] == [str(i) for i in range(10)]
    for name, row in zip(data["classes"], data["confusion_matrix"], strict=True):
        assert sum(row) == data["per_class"][name]["support"] == {"0": 59, "8": 61}.get(name, 60)
    assert data["accuracy"] > 0.85
    wrong = sum(sum(r) - r[i] for i, r in enumerate(data["confusion_matrix"]))
    assert len(data["misclassified"]) == wrong >= 1
    rows = {Path(m["path"]).name: m for m in data["misclassified"]}
    m = rows["misfiled_zero.png"]
    assert set(m) == {"path", "true", "predicted", "probability"}
    assert m["true"] == "8" and m["predicted"] != "8"


def test_module_entry_point_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "resnet_gui", "--version"], capture_output=True, text=True,
        timeout=60,
    )
    assert out.returncode == 0 and out.stdout.startswith("resnet-gui ")


def test_predict_min_confidence_and_evaluate_extras(
    tiny_model: Path, tiny_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one = str(sorted((tiny_data / "china").iterdir())[0])
    assert main(["predict", str(tiny_model), one, "--format", "json",
                 "--min-confidence", "0.999"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0]["uncertain"] is True
    assert main(["predict", str(tiny_model), one, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["uncertain"] == "false"
    assert main(["evaluate", str(tiny_model), str(tiny_data), "--format", "json",
                 "--robustness"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert set(rep["calibration"]) == {"temperature", "ece", "ece_uncalibrated"}
    assert isinstance(rep["suspected_label_errors"], list)
    assert set(rep["robustness"]) == {"clean", "blur", "darker", "brighter", "jpeg", "noise",
                                      "rotate"}
    assert main(["evaluate", str(tiny_model), str(tiny_data), "--robustness"]) == 0
    out = capsys.readouterr().out
    assert "robustness" in out and "calibration: temperature" in out


def test_evaluate_unusable_folder_is_one_line(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "china").mkdir()
    (tmp_path / "zebra").mkdir()
    assert main(["evaluate", str(tiny_model), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "zebra" in err and err.count("\n") == 1
    (tmp_path / "zebra").rmdir()
    assert main(["evaluate", str(tiny_model), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no usable images" in err and err.count("\n") == 1
