"""The manual page and the bash and zsh completions: generated from the argument parser, committed up to date,
rendered by man, and completing in real shells."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from offlineimap_phantomfix.cli import build_parser
from offlineimap_phantomfix.completion import main as completion_main
from offlineimap_phantomfix.completion import render_bash, render_zsh
from offlineimap_phantomfix.manual import commands, render_manpage

ROOT = Path(__file__).resolve().parents[1]
MANPAGE = ROOT / "man" / "offlineimap-phantomfix.1"
BASH = ROOT / "completions" / "bash" / "offlineimap-phantomfix"
ZSH = ROOT / "completions" / "zsh" / "_offlineimap-phantomfix"


def need(program: str) -> str:
    found = shutil.which(program)
    if found is None:
        pytest.fail(f"{program} is not installed (make test installs it)")
    return found


@pytest.mark.parametrize(("path", "render"), [(MANPAGE, render_manpage), (BASH, render_bash), (ZSH, render_zsh)])
def test_committed_files_are_up_to_date(path: Path, render: object) -> None:
    assert callable(render)
    assert path.read_text(encoding="utf-8") == render(build_parser()), f"run `make docs` to update {path.name}"


def test_manpage_renders_with_man_and_names_every_command_and_option() -> None:
    done = subprocess.run([need("man"), "-l", str(MANPAGE)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "MANWIDTH": "100", "PAGER": "cat"},
                          check=False)
    assert done.returncode == 0, done.stderr
    text = re.sub(".\b", "", done.stdout).replace("\u2010", "-")  # no overstrike bold, no hyphen signs
    for section in ("NAME", "SYNOPSIS", "OPTIONS", "COMMANDS", "EXIT STATUS", "FILES", "SEE ALSO"):
        assert f"\n{section}\n" in text, section
    for command in commands(build_parser()):
        assert f"offlineimap-phantomfix {command.name}" in text
        for option in command.options:
            assert option.flags[0] in text, option
    warnings = subprocess.run([need("groff"), "-man", "-Tutf8", "-ww", "-z", str(MANPAGE)], capture_output=True,
                              text=True, timeout=120, check=False)
    assert warnings.returncode == 0 and warnings.stderr == "", warnings.stderr


def complete_in_bash(*words: str) -> list[str]:
    script = (f"source {BASH}\nCOMP_WORDS=({' '.join(repr(word) for word in words)})\n"
              f"COMP_CWORD={len(words) - 1}\n_offlineimap_phantomfix\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n")
    done = subprocess.run([need("bash"), "--norc", "-c", script], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return done.stdout.split()


def test_bash_completes_commands_and_their_options() -> None:
    assert complete_in_bash("offlineimap-phantomfix", "") == [
        "report", "clear", "probe", "purge", "adopt", "doctor", "demo", "-c", "--config", "--version", "-h", "--help"]
    assert complete_in_bash("offlineimap-phantomfix", "d") == ["doctor", "demo"]
    assert complete_in_bash("offlineimap-phantomfix", "-c", "rc", "cl") == ["clear"]
    assert complete_in_bash("offlineimap-phantomfix", "clear", "--d") == ["--dry-run"]
    assert complete_in_bash("offlineimap-phantomfix", "purge", "--account", "") == []  # a value, not an option
    assert "--offlineimap" in complete_in_bash("offlineimap-phantomfix", "doctor", "--")


def test_zsh_completes_a_commands_options_interactively(tmp_path: Path) -> None:
    zsh, tmux = need("zsh"), need("tmux")
    (tmp_path / ".zshrc").write_text(f"fpath=({ZSH.parent} $fpath)\nautoload -U compinit\n"
                                     f"compinit -u -d {tmp_path}/zcompdump\n", encoding="utf-8")
    socket = str(tmp_path / "tmux.socket")

    def run(*args: str) -> str:
        done = subprocess.run([tmux, "-S", socket, *args], capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("new-session", "-d", "-s", "zsh", "-x", "150", "-y", "30",
        f"env -i TERM=xterm HOME={tmp_path} ZDOTDIR={tmp_path} PATH=/usr/bin:/bin {zsh} -i")
    try:
        run("send-keys", "-t", "zsh", "offlineimap-phantomfix pu", "Tab")
        deadline = time.monotonic() + 60
        while "purge" not in run("capture-pane", "-p", "-t", "zsh") and time.monotonic() < deadline:
            time.sleep(0.2)
        run("send-keys", "-t", "zsh", " --", "Tab")
        screen = ""
        while "really delete it" not in screen and time.monotonic() < deadline:
            time.sleep(0.2)
            screen = run("capture-pane", "-p", "-t", "zsh")
        assert "offlineimap-phantomfix purge --" in screen, screen
        for line in ("--account", "--folder", "--uid", "--yes", "really delete it"):
            assert line in screen, screen
    finally:
        subprocess.run([tmux, "-S", socket, "kill-server"], capture_output=True, timeout=60, check=False)


def test_completion_generator_refuses_an_unknown_shell(capsys: pytest.CaptureFixture[str]) -> None:
    assert completion_main(["fish"]) == 2
    assert "bash|zsh" in capsys.readouterr().err
