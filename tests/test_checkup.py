"""checkup.py: doctor tries the plugin's import with the offlineimap program the user runs, and notices
quarantine items that left their Maildir."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from offlineimap_phantomfix import cli
from offlineimap_phantomfix.checkup import check_offlineimap, interpreter_of

PLUGIN_LESS = f"#!{sys.executable} -S\n"  # the same Python without site-packages: no offlineimap, no plugin


def program(directory: Path, first_line: str, name: str = "offlineimap") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(first_line + "raise SystemExit(0)\n", encoding="utf-8")
    path.chmod(0o755)
    return path


def test_interpreter_is_read_from_the_first_line(tmp_path: Path) -> None:
    assert interpreter_of(program(tmp_path / "a", f"#!{sys.executable}\n")) == [sys.executable]
    assert interpreter_of(program(tmp_path / "b", PLUGIN_LESS)) == [sys.executable, "-S"]
    env_line = program(tmp_path / "c", f"#!/usr/bin/env {Path(sys.executable).name}\n")
    found = interpreter_of(env_line)
    assert found is not None and Path(found[0]).name == Path(sys.executable).name
    assert interpreter_of(program(tmp_path / "d", "#!/bin/sh\n")) is None
    assert interpreter_of(tmp_path / "missing") is None


def test_the_program_first_on_path_is_tried_and_named(tmp_path: Path) -> None:
    good = program(tmp_path / "good", f"#!{sys.executable}\n")
    bad = program(tmp_path / "bad", PLUGIN_LESS)
    [(verdict, what, detail)] = check_offlineimap(None, path=str(good.parent))[:1]
    assert (verdict, what) == ("ok", "offlineimap program")
    assert detail.startswith(f"{good} (first on PATH): its Python {sys.executable} imports offlineimap_phantomfix")
    verdict, _, detail = check_offlineimap(None, path=f"{bad.parent}{os.pathsep}{good.parent}")[0]
    assert verdict == "error"
    assert detail.startswith(f"{bad} (first on PATH): its Python {sys.executable} cannot load the plugin")
    assert "ModuleNotFoundError" in detail
    verdict, _, detail = check_offlineimap(None, path=str(tmp_path / "nothing"))[0]
    assert verdict == "warning" and "--offlineimap" in detail


def test_the_programs_own_directory_comes_first_as_when_python_runs_it(tmp_path: Path) -> None:
    # Debian's layout: /usr/bin/offlineimap -> ../share/offlineimap3/run, its modules next to the real script
    share = tmp_path / "share" / "offlineimap3"
    run = program(share, PLUGIN_LESS, name="run")
    (share / "offlineimap").mkdir()
    (share / "offlineimap" / "__init__.py").write_text("__version__ = '8.0.0'\n", encoding="utf-8")
    (tmp_path / "bin").mkdir()
    link = tmp_path / "bin" / "offlineimap"
    link.symlink_to(Path("..") / "share" / "offlineimap3" / "run")
    verdict, _, detail = check_offlineimap(str(link))[0]
    assert verdict == "error" and "No module named 'offlineimap_phantomfix'" in detail, detail  # offlineimap found
    plugin = share / "offlineimap_phantomfix"
    plugin.mkdir()
    (plugin / "__init__.py").write_text("__version__ = '9.9'\ndef install():\n    import offlineimap\n",
                                        encoding="utf-8")
    verdict, _, detail = check_offlineimap(str(link))[0]
    assert verdict == "ok", detail
    assert detail == f"{link} (named with --offlineimap): its Python {sys.executable} imports " \
                     "offlineimap_phantomfix 9.9 (offlineimap 8.0.0)"
    assert run.exists()


def test_a_shell_wrapper_is_named_as_untested(tmp_path: Path) -> None:
    wrapper = program(tmp_path / "sh", "#!/bin/sh\n")
    verdict, _, detail = check_offlineimap(str(wrapper))[0]
    assert verdict == "error" and "not a Python script" in detail and "named with --offlineimap" in detail
    assert check_offlineimap(str(tmp_path / "none"))[0][0] == "error"


def test_crons_offlineimap_is_tried_when_it_is_another_program(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    good = program(tmp_path / "good", f"#!{sys.executable}\n")
    cron = program(tmp_path / "cron", PLUGIN_LESS)
    monkeypatch.setattr("offlineimap_phantomfix.checkup.CRON_PATH", str(cron.parent))
    checks = check_offlineimap(str(good))
    assert [(verdict, what) for verdict, what, _ in checks] == [
        ("ok", "offlineimap program"), ("warning", "offlineimap under cron")]
    assert checks[1][2].startswith(f"{cron} (cron's PATH {cron.parent}): ")
    assert f"run {good} by its full path" in checks[1][2]
    monkeypatch.setattr("offlineimap_phantomfix.checkup.CRON_PATH", str(good.parent))
    assert len(check_offlineimap(str(good))) == 1  # the same program: tried once


def test_doctor_fails_when_the_named_offlineimap_cannot_import_the_plugin(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "offlineimaprc"
    hook = tmp_path / "hook.py"
    hook.write_text("import offlineimap_phantomfix\nofflineimap_phantomfix.install()\n", encoding="utf-8")
    config.write_text(f"[general]\naccounts = Work\npythonfile = {hook}\nmetadata = {tmp_path / 'meta'}\n"
                      "[Account Work]\nlocalrepository = L\nremoterepository = R\n"
                      f"[Repository L]\ntype = Maildir\nlocalfolders = {tmp_path / 'Mail'}\n"
                      "[Repository R]\ntype = PhantomSafeIMAP\nremotehost = 127.0.0.1\n", encoding="utf-8")
    bad = program(tmp_path / "bad", PLUGIN_LESS)
    assert cli.main(["-c", str(config), "doctor", "--offlineimap", str(bad)]) == 1
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if "offlineimap program" in line)
    assert line.startswith("error") and str(bad) in line
    assert line.endswith(f"run {Path(sys.executable).with_name('offlineimap')} (next to this "
                         "offlineimap-phantomfix) by its full path instead")
    assert "ok      activation: [general] pythonfile" in out  # the pythonfile check alone says ok
    good = program(tmp_path / "good", f"#!{sys.executable}\n")
    assert cli.main(["-c", str(config), "doctor", "--offlineimap", str(good)]) == 0
    assert f"ok      offlineimap program: {good} (named with --offlineimap)" in capsys.readouterr().out
