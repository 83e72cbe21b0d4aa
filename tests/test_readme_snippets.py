"""Every snippet of README.md works when pasted: offlineimaprc snippets read by offlineimap's own parser,
Python snippets run, shell lines parsed by the program they call (and the notmuch recipe run for real), and the
Activate snippets, assembled as the README says, sync a mailbox with phantoms with the real offlineimap."""

from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from offlineimap.CustomConfig import CustomConfigParser

from offlineimap_phantomfix import cli
from offlineimap_phantomfix.notice import build_notice
from offlineimap_phantomfix.options import parse_options
from offlineimap_phantomfix.quarantine import Quarantine
from offlineimap_phantomfix.testing import Fault
from offlineimap_phantomfix.testing.harness import run_offlineimap, write_offlineimaprc
from offlineimap_phantomfix.testing.messages import make_message
from offlineimap_phantomfix.testing.scenarios import healthy_mailbox
from offlineimap_phantomfix.verdicts import Evidence, MessageKey, Original, Verdict

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
TYPES = {"IMAP", "Gmail", "Maildir", "PhantomSafeIMAP", "PhantomSafeGmail"}
# Other programs a README shell line may start with (only named; our own command and make are checked).
OTHER_PROGRAMS = {"pip", "mutt", "man", "source", "mkdir", "cat", "notmuch", "offlineimap",
                  "offlineimap-phantomsafe", "git", "patch", "crontab", "EOF", "systemctl", "python3", "pipx",
                  "apt-get", "dpkg-buildpackage"}
CRON_TIME = re.compile(r"\A(?:\S+\s+){5}")
# What our programs print, shown as an example (checked against the real output elsewhere): the report, the
# end-of-sync line, a line of doctor.
OUTPUT = re.compile(r"\A(?:offlineimap-phantomfix report, |phantomfix: \[|ok {6}(?:activation:|account) )")
SYSTEMD_SECTIONS = {"Unit", "Service", "Timer", "Install"}


@dataclass(frozen=True)
class Snippet:
    line: int  # 1-based line of README.md where it starts
    text: str

    @property
    def kind(self) -> str:
        first = self.text.lstrip().splitlines()[0]
        if first == "[Unit]":
            return "systemd"
        if OUTPUT.match(first):
            return "output"
        if first.startswith("["):
            return "config"
        if first.startswith(("import ", "from ")):
            return "python"
        return "shell"


def snippets() -> list[Snippet]:
    """The indented code blocks of README.md (4 spaces deeper than the text around them, after a blank line)."""
    found: list[Snippet] = []
    text_indent = code_indent = 0
    block: list[str] = []
    start = 0
    previous_blank = True
    lines = README.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate([*lines, "end"], start=1):
        indent = len(line) - len(line.lstrip(" "))
        if block and (not line.strip() or indent >= code_indent):
            block.append(line[code_indent:])
            continue
        if block:
            found.append(Snippet(start, "\n".join(block).strip("\n") + "\n"))
            block = []
        if line.strip() and previous_blank and indent >= text_indent + 4 and not line.lstrip().startswith("|"):
            code_indent, start, block = indent, number, [line[indent:]]
            continue
        if line.strip():
            text_indent = 0 if not line.startswith(" ") else indent
            if re.match(r"\s*(\d+\.|[-*])\s", line):  # a list item: its text continues further in
                text_indent = len(re.match(r"\s*(\d+\.|[-*])\s+", line).group(0))  # type: ignore[union-attr]
        previous_blank = not line.strip()
    return found


SNIPPETS = snippets()


def test_the_readme_has_the_snippets_this_test_knows_about() -> None:
    kinds = [snippet.kind for snippet in SNIPPETS]
    assert kinds.count("config") >= 2 and kinds.count("python") >= 1 and kinds.count("shell") >= 8, SNIPPETS
    assert kinds.count("systemd") == 2 and kinds.count("output") == 5, SNIPPETS


@pytest.mark.parametrize("snippet", [s for s in SNIPPETS if s.kind == "config"], ids=lambda s: f"line{s.line}")
def test_config_snippets_read_as_meant_by_offlineimaps_parser(snippet: Snippet) -> None:
    parser = CustomConfigParser()
    parser.read_string(snippet.text, source=f"README.md line {snippet.line}")
    for section in parser.sections():
        for option, value in parser.items(section):
            assert not re.search(r"\s[#;]", value), f"README.md line {snippet.line}: [{section}] {option} = {value!r}"
            if option == "type":
                assert value in TYPES, f"README.md line {snippet.line}: type = {value!r}"
            if option == "postsynchook" or option.startswith("presynchook"):
                check_shell_line(value, snippet)
        if section.startswith("Repository "):
            parse_options(dict(parser.items(section)))  # every phantom_* option is valid


@pytest.mark.parametrize("snippet", [s for s in SNIPPETS if s.kind == "systemd"], ids=lambda s: f"line{s.line}")
def test_systemd_units_have_known_sections_and_run_what_they_say(snippet: Snippet) -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(snippet.text, source=f"README.md line {snippet.line}")
    assert set(parser.sections()) <= SYSTEMD_SECTIONS and parser.has_option("Unit", "Description"), snippet
    if parser.has_section("Service"):
        assert parser.get("Service", "Type") == "oneshot"
        check_shell_line(parser.get("Service", "ExecStart"), snippet)
    if parser.has_section("Timer"):
        assert parser.get("Install", "WantedBy") == "timers.target"


@pytest.mark.parametrize("snippet", [s for s in SNIPPETS if s.kind == "python"], ids=lambda s: f"line{s.line}")
def test_python_snippets_run(snippet: Snippet) -> None:
    done = subprocess.run([sys.executable, "-c", snippet.text], capture_output=True, text=True, timeout=120,
                          cwd="/", check=False)
    assert done.returncode == 0, done.stderr


def check_shell_line(line: str, snippet: Snippet) -> None:
    line = CRON_TIME.sub("", line) if re.match(r"\A[\d*]", line) else line
    words = shlex.split(line, comments=True)
    if not words:
        return
    where = f"README.md line {snippet.line}: {line}"
    if words[0] == "sudo":
        words = words[1:]
    program = Path(words[0]).name
    if program == "offlineimap-phantomfix":
        assert cli.build_parser().parse_known_args(words[1:])[1] == [], where
        cli._check_scope(cli.build_parser().parse_args(words[1:]))  # a usage error exits: the test fails
    elif program == "make":
        makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
        for target in words[1:]:
            assert re.search(rf"^{re.escape(target)}:", makefile, re.MULTILINE), where
    else:
        assert program in OTHER_PROGRAMS, f"{where}: add {program} to the README snippet test"


def shell_lines(snippet: Snippet) -> list[str]:
    """The snippet's command lines (a line ending in a backslash joined with the next), leaving out the body of
    a here-document."""
    lines, inside = [], None
    for line in re.sub(r"\\\n", " ", snippet.text).splitlines():
        if inside is not None:
            inside = None if line.strip() == inside else inside
            continue
        heredoc = re.search(r"<<-?\s*'?(\w+)'?", line)
        inside = heredoc.group(1) if heredoc else None
        lines.append(line)
    return lines


@pytest.mark.parametrize("snippet", [s for s in SNIPPETS if s.kind == "shell"], ids=lambda s: f"line{s.line}")
def test_shell_snippets_parse(snippet: Snippet, capsys: pytest.CaptureFixture[str]) -> None:
    for line in shell_lines(snippet):
        check_shell_line(line, snippet)
    capsys.readouterr()


def test_the_notmuch_recipe_runs_as_written(tmp_path: Path) -> None:
    recipe = next(s for s in SNIPPETS if "notmuch" in s.text and "<<" in s.text)
    notmuch = shutil.which("notmuch")
    if notmuch is None:
        pytest.fail("notmuch is not installed (make test installs Debian's notmuch)")
    home = tmp_path / "home"
    key = MessageKey("Work", "WorkRemote", "INBOX", 14, 15541)
    item = build_notice(key, Verdict.PLACEHOLDER, Evidence(),
                        original=Original(subject="Quarterly budget review"), server_message=b"Subject: x\r\n\r\n")
    Quarantine(home / ".offlineimap" / "phantomfix" / "quarantine").deliver("Work", item, key)
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    done = subprocess.run(["bash", "-e", "-c", recipe.text], capture_output=True, text=True, timeout=120, env=env,
                          cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    assert "[phantom] Quarterly budget review (INBOX UID 15541, placeholder)" in done.stdout, done.stdout


@pytest.mark.e2e
def test_the_activate_snippets_assembled_sync_past_a_phantom(emulator: Any, tmp_path: Path) -> None:
    parser = CustomConfigParser()
    for snippet in SNIPPETS:
        if snippet.kind == "config" and "[Repository " in snippet.text:
            parser.read_string(snippet.text)
    remote = dict(parser.items("Repository WorkRemote"))
    repo_type = remote.pop("type")
    remote.pop("remotehost")  # the emulator on 127.0.0.1 stands in for the server
    activation = next(s for s in SNIPPETS if s.kind == "python" and "install()" in s.text).text.splitlines()
    healthy_mailbox(emulator, {"INBOX": 3})
    emulator.append("INBOX", make_message(4, subject="Lost"), fault=Fault.EMPTY)
    setup = write_offlineimaprc(tmp_path, port=emulator.port, user=emulator.user, password=emulator.password,
                                account="Work", repo_type=repo_type, remote_options=remote,
                                pythonfile_lines=activation)
    result = run_offlineimap(setup, timeout=120)
    assert result.returncode == 0, result.output
    status, out, _ = run_helper("-c", str(setup.config), "report", "--json")
    assert status == 0 and '"verdict": "empty"' in out, out


def run_helper(*argv: str) -> tuple[int, str, str]:
    done = subprocess.run([str(Path(sys.executable).with_name("offlineimap-phantomfix")), *argv],
                          capture_output=True, text=True, timeout=120, check=False)
    return done.returncode, done.stdout, done.stderr
