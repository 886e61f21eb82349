"""The installation options: --selftest, the desktop entry, and opening a double-clicked model."""

from __future__ import annotations

import configparser
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from resnet_gui.cli import _normalise_argv, main
from resnet_gui.cli.install import SELFTEST_PASSED
from resnet_gui.core import selftest
from resnet_gui.core.base.assets import ICON_SIZES, demo_data_dir, icon_file


def test_shipped_files_live_inside_the_package() -> None:
    """The demo data and every icon size sit inside the package, where package-data (a wheel:
    checked with ``pip wheel``, docs/packaging.md) and the bundle's ``--add-data`` take them."""
    package = Path(selftest.__file__).resolve().parents[1]
    assert demo_data_dir().is_relative_to(package)
    assert len(list(demo_data_dir().iterdir())) == 10
    for size in ICON_SIZES:
        from PIL import Image

        with Image.open(icon_file(size)) as im:
            assert im.size == (size, size)
    assert icon_file().read_text(encoding="utf-8").lstrip().startswith("<?xml")


def test_installation_options_are_not_taken_for_the_gui() -> None:
    assert _normalise_argv(["--selftest"]) == ["--selftest"]
    assert _normalise_argv(["--debug", "--install-desktop-entry"]) == [
        "--debug", "--install-desktop-entry"]
    assert _normalise_argv(["m.keras"]) == ["gui", "m.keras"]


def test_installation_options_take_no_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--selftest", "scan", "."]) == 2
    assert "take no command" in capsys.readouterr().err
    assert main(["--selftest", "--install-desktop-entry"]) == 2


def test_selftest_names_the_failing_step_and_skips_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: list[str] = []

    def ok(ctx: selftest.SelftestContext) -> str:
        ran.append("ok")
        return "fine"

    def broken(ctx: selftest.SelftestContext) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(selftest, "STEPS", [("first", ok), ("second", broken), ("third", ok)])
    lines: list[str] = []
    assert selftest.run_selftest(lines.append) == "second"
    assert ran == ["ok"]
    assert lines[0].startswith("ok      first") and "fine" in lines[0]
    assert lines[1] == "FAILED  second: OSError: disk full"


def test_a_failing_selftest_exits_1(monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    def broken(ctx: selftest.SelftestContext) -> str:
        raise RuntimeError("no TensorFlow")

    monkeypatch.setattr(selftest, "STEPS", [("import TensorFlow", broken)])
    assert main(["--selftest"]) == 1
    out = capsys.readouterr().out
    assert "selftest failed at step: import TensorFlow" in out
    assert SELFTEST_PASSED not in out


@pytest.mark.slow
def test_selftest_passes_on_a_working_install(qapp: object,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--selftest"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith(SELFTEST_PASSED)
    for step, _ in selftest.STEPS:
        assert f"ok      {step} " in out
    assert "ok      open the window" in out


@pytest.mark.skipif(sys.platform != "linux", reason="freedesktop.org entries are Linux's")
def test_desktop_entry_installs_and_uninstalls_in_the_users_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "share"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    assert main(["--install-desktop-entry"]) == 0
    written = [Path(line.split(" ", 1)[1]) for line in capsys.readouterr().out.splitlines()
               if line.startswith("wrote ")]
    assert written and all(p.is_relative_to(home) and p.is_file() for p in written)

    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(home / "applications" / "resnet-gui.desktop", encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application" and section["Icon"] == "resnet-gui"
    assert section["Exec"].endswith(" %F")
    assert "application/x-keras-model;" in section["MimeType"]
    mime = ET.parse(home / "mime" / "packages" / "resnet-gui.xml").getroot()
    globs = [g.get("pattern") for g in mime.iter() if g.tag.endswith("glob")]
    assert globs == ["*.keras"]
    for size in ICON_SIZES:
        assert (home / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "resnet-gui.png"
                ).read_bytes() == icon_file(size).read_bytes()

    assert main(["--uninstall-desktop-entry"]) == 0
    assert not any(p.exists() for p in written)
    assert main(["--uninstall-desktop-entry"]) == 0
    assert "no desktop entry was installed" in capsys.readouterr().out


def _read_exec(value: str) -> list[str]:
    """Read ``Exec=`` as the Desktop Entry spec says a launcher does: the string escapes first,
    then the quoting (backslash escapes inside double quotes), then ``%%`` -> ``%``."""
    plain = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    text = re.sub(r"\\(.)", lambda m: plain.get(m[1], "\\" + m[1]), value)
    args, i = [], 0
    while i < len(text):
        if text[i] == " ":
            i += 1
            continue
        arg = ""
        if text[i] == '"':
            i += 1
            while text[i] != '"':
                if text[i] == "\\":
                    i += 1
                arg += text[i]
                i += 1
            i += 1
        else:
            while i < len(text) and text[i] != " ":
                arg += text[i]
                i += 1
        args.append(arg.replace("%%", "%"))
    return args


@pytest.mark.parametrize("command", [
    ["/opt/My Apps/resnet-gui"],
    ["/usr/bin/python3", "-m", "resnet_gui"],
    ["/home/a\\b/c$d/e`f/g\"h/100%/resnet-gui-app"],
])
def test_exec_line_reads_back_as_the_command(command: list[str]) -> None:
    from resnet_gui.cli.desktop import desktop_entry

    line = next(x for x in desktop_entry(command).splitlines() if x.startswith("Exec="))
    assert line.endswith(" %F")
    assert _read_exec(line[len("Exec="):-len(" %F")]) == command


def test_a_double_clicked_model_opens_as_the_model(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import resnet_gui.ui.app as app

    calls: list[dict] = []
    monkeypatch.setattr(app, "run_app", lambda **kw: calls.append(kw) or 0)
    assert main(["/tmp/m.keras", "/tmp/a.jpg"]) == 0
    assert calls[-1]["model"] == "/tmp/m.keras" and calls[-1]["images"] == ["/tmp/a.jpg"]
    assert main(["/tmp/m.keras", "/tmp/n.h5"]) == 2
    assert "one model at a time" in capsys.readouterr().err
