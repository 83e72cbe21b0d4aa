"""No traceback from any command for any configuration or argument: each edge case gives one line and the exit
status README promises (1 handled error, 2 usage error). offlineimap is imported for real; the emulator on
127.0.0.1 stands behind the cases that get as far as connecting."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from offlineimap_phantomfix import cli
from offlineimap_phantomfix.testing import ACTIVATION_LINES, EmulatorServer, Fault, make_message, write_offlineimaprc

pytestmark = pytest.mark.e2e

PREFIX = "offlineimap-phantomfix: error: "
PROBE = ["probe", "--account", "Test", "--folder", "INBOX", "--uid", "1"]


@dataclass
class Case:
    argv: list[str]
    code: int
    says: str  # a piece of the one error line
    remote: dict[str, str] = field(default_factory=dict)
    general: dict[str, str] = field(default_factory=dict)
    hook: list[str] | None = None
    prepare: Callable[[Path], Any] | None = None  # gets the work directory; may return a config path to use


def _text_config(text: str) -> Callable[[Path], Path]:
    def write(workdir: Path) -> Path:
        path = workdir / "hand-written.rc"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def _state_dir_is_a_file(workdir: Path) -> None:
    (workdir / "metadata").mkdir(exist_ok=True)
    (workdir / "metadata" / "phantomfix").write_text("not a directory")


def _without_remotepass(workdir: Path) -> None:
    config = workdir / "offlineimaprc"
    lines = config.read_text(encoding="utf-8").splitlines()
    config.write_text("\n".join(line for line in lines if not line.startswith("remotepass =")) + "\n")


def _broken_netrc(workdir: Path) -> None:
    _without_remotepass(workdir)
    (workdir / ".netrc").write_text("machine 127.0.0.1 login user password n3trc-Secret\n", encoding="utf-8")
    (workdir / ".netrc").chmod(0o644)  # readable by others: Python's netrc refuses it


CASES: dict[str, Case] = {
    "config missing": Case(["-c", "/nonexistent/rc", "report"], 1, "does not exist"),
    "config is a directory": Case(["report"], 1, "cannot read config file",
                                  prepare=lambda workdir: workdir),
    "parse error names the line": Case(["report"], 1, "line 3: 'foo' (not 'name = value'",
                                       prepare=_text_config("[general]\naccounts = A\nfoo\n")),
    "no section header": Case(["report"], 1, "line 1: 'accounts ...' comes before any [section] header",
                              prepare=_text_config("accounts = A\n")),
    "duplicate option": Case(["report"], 1, "option 'accounts' in section 'general' already exists",
                             prepare=_text_config("[general]\naccounts = A\naccounts = B\n")),
    "no accounts": Case(["report"], 1, "[general] accounts is missing", prepare=_text_config("[general]\n")),
    "unknown account": Case(["probe", "--account", "Nope", "--folder", "INBOX", "--uid", "1"], 1,
                            "no account 'Nope'"),
    "port not a number": Case(PROBE, 1, "remoteport = 'abc' is not a whole number", remote={"remoteport": "abc"}),
    "port out of range": Case(PROBE, 1, "remoteport = '99999' must be at most 65535",
                              remote={"remoteport": "99999"}),
    "ssl not a boolean": Case(PROBE, 1, "ssl = 'maybe' is not yes or no", remote={"ssl": "maybe"}),
    "no connections allowed": Case(PROBE, 1, "maxconnections = '0' must be at least 1",
                                   remote={"maxconnections": "0"}),
    "socktimeout not a number": Case(PROBE, 1, "socktimeout = 'x' is not a whole number",
                                     general={"socktimeout": "x"}),
    "no remotehost": Case(PROBE, 1, "remotehost is not set", remote={"remotehost": ""}),
    "CA file missing": Case(PROBE, 1, "CA certfile for repository 'TestRemote' couldn't be found",
                            remote={"ssl": "yes", "sslcacertfile": "/nonexistent/ca.pem"}),
    "retry interval too long for report": Case(["report"], 1, "phantom_retry_after = '99999999999999d' is too long",
                                               remote={"phantom_retry_after": "99999999999999d"}),
    "retry interval too long for probe": Case(PROBE, 1, "is too long",
                                              remote={"phantom_retry_after": "99999999999999d"}),
    "bad phantom_action": Case(["clear", "--all"], 1, "phantom_action = 'delete' is not one of",
                               remote={"phantom_action": "delete"}),
    "pythonfile syntax error": Case(PROBE, 1, "phantomfix_hook.py line 2: invalid syntax", hook=[
        "import offlineimap_phantomfix", "def broken(:"]),
    "pythonfile raises": Case(PROBE, 1, "[general] pythonfile: RuntimeError: no", hook=[
        "raise RuntimeError('no')"]),
    "remotepasseval raises": Case(PROBE, 1, "remotepasseval failed (ZeroDivisionError; the value is not shown)",
                                  remote={"remotepasseval": "1/0"}),
    "remotepasseval not Python": Case(PROBE, 1, "remotepasseval is not a Python expression",
                                      remote={"remotepasseval": "get pass"}),
    "remotepassfile missing": Case(PROBE, 1, "remotepassfile: Unable to read remotepassfile '/nonexistent/pass'",
                                   remote={"remotepassfile": "/nonexistent/pass"}, prepare=_without_remotepass),
    "netrc broken": Case(PROBE, 1, "netrc failed (NetrcParseError; the value is not shown)",
                         prepare=_broken_netrc),
    "no password anywhere": Case(PROBE, 1, "no password for user at 127.0.0.1:", prepare=_without_remotepass),
    "password with a lone %": Case(PROBE, 1, "remotepass cannot be read: a '%' in it must be written '%%'",
                                   remote={"remotepass": "pa%ss"}),
    "state directory is a file": Case(["report"], 1, "is not a directory", prepare=_state_dir_is_a_file),
    "folder that needs modified UTF-7": Case(["probe", "--account", "Test", "--folder", "Entwürfe", "--uid", "1"],
                                             1, "no folder 'Entwürfe' on 127.0.0.1:"),
    "folder that needs modified UTF-7, purge": Case(
        ["purge", "--account", "Test", "--folder", "Entwürfe", "--uid", "1"], 1, "no folder 'Entwürfe'"),
    "UID not in the folder": Case(["purge", "--account", "Test", "--folder", "INBOX", "--uid", "4294967295"], 1,
                                  "no message with UID 4294967295"),
    "output cannot be written": Case([*PROBE, "--output", "/nonexistent/dir/t.txt"], 1,
                                     "the directory /nonexistent/dir does not exist"),
    "UID zero": Case(["probe", "--account", "Test", "--folder", "INBOX", "--uid", "0"], 2, "is not a UID"),
    "UID negative": Case(["purge", "--account", "Test", "--folder", "INBOX", "--uid", "-5"], 2, "--uid"),
    "UID beyond 32 bits": Case(["probe", "--account", "Test", "--folder", "INBOX", "--uid", "4294967296"], 2,
                               "a whole number from 1 to 4294967295"),
    "UID not a number": Case(["clear", "--account", "Test", "--folder", "INBOX", "--uid", "x1"], 2, "is not a UID"),
    "uid without folder": Case(["clear", "--account", "Test", "--uid", "1"], 2, "--uid needs --folder"),
    "unknown command": Case(["fix"], 2, "invalid choice"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_one_line_and_the_documented_status(name: str, emulator: EmulatorServer, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    case = CASES[name]
    emulator.append("INBOX", make_message(1))
    setup = write_offlineimaprc(tmp_path / "work", port=emulator.port, repo_type="PhantomSafeIMAP",
                                user=emulator.user, password=emulator.password,
                                pythonfile_lines=case.hook if case.hook is not None else list(ACTIVATION_LINES),
                                remote_options=case.remote, general_options=case.general)
    monkeypatch.setenv("HOME", str(setup.workdir))  # offlineimap reads ~/.netrc
    config = case.prepare(setup.workdir) if case.prepare is not None else None
    argv = case.argv if case.argv[:1] == ["-c"] else ["-c", str(config or setup.config), *case.argv]
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert code == case.code, (out, err)
    if code == 2:
        assert case.says in err and err.rstrip().splitlines()[-1].startswith("offlineimap-phantomfix")
        return
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(PREFIX), err
    assert case.says in lines[0], lines[0]
    assert emulator.password not in out + err
    if name == "output cannot be written":
        assert not emulator.commands(), "connected although the transcript could not have been kept"


def test_doctor_flags_what_would_crash_the_sync(emulator: EmulatorServer, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # the user runs this installation's offlineimap, so doctor's import check passes
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    bad = {"remoteport": "abc", "maxconnections": "0", "ssl": "maybe"}
    for option, value in bad.items():
        setup = write_offlineimaprc(tmp_path / option, port=emulator.port, repo_type="PhantomSafeIMAP",
                                    pythonfile_lines=list(ACTIVATION_LINES), remote_options={option: value})
        assert cli.main(["-c", str(setup.config), "doctor"]) == 1
        out = capsys.readouterr().out
        assert f"error   account Test: server settings: [Repository TestRemote] {option} = {value!r}" in out
    good = write_offlineimaprc(tmp_path / "good", port=emulator.port, repo_type="PhantomSafeIMAP",
                               pythonfile_lines=list(ACTIVATION_LINES))
    assert cli.main(["-c", str(good.config), "doctor"]) == 0
    out = capsys.readouterr().out
    assert f"ok      account Test: server settings: 127.0.0.1:{emulator.port} (plaintext), user user" in out
    assert not emulator.commands()  # doctor never connects


@pytest.mark.parametrize("value", ["0", "0d", "0D", "0s", "0W", "never", "NEVER"])
def test_zero_of_any_unit_means_never(value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    setup = write_offlineimaprc(tmp_path, port=1, repo_type="PhantomSafeIMAP", pythonfile_lines=list(ACTIVATION_LINES),
                                remote_options={"phantom_retry_after": value})
    cli.main(["-c", str(setup.config), "doctor"])
    assert "phantom_retry_after = never" in capsys.readouterr().out


def test_purge_dry_run_that_would_refuse_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with EmulatorServer(uidplus=False) as server:
        server.append("INBOX", make_message(1), flags=["\\Deleted"])  # someone else's, pending expunge
        uid = server.append("INBOX", make_message(2))
        server.set_fault("INBOX", uid, Fault.EMPTY)  # a current phantom: purge's own checks let it through
        setup = write_offlineimaprc(tmp_path, port=server.port, repo_type="PhantomSafeIMAP",
                                    pythonfile_lines=list(ACTIVATION_LINES))
        code = cli.main(["-c", str(setup.config), "purge", "--account", "Test", "--folder", "INBOX",
                         "--uid", str(uid)])
        out = capsys.readouterr().out
        assert [m.uid for m in server.messages("INBOX")] == [1, 2]
    assert code == 1
    assert "would refuse: the server has no UIDPLUS, and 1 other message (UID 1) is also flagged \\Deleted" in out
    assert out.rstrip().endswith("nothing was changed; --yes would refuse this too (see above).")
    assert "run again with --yes" not in out
