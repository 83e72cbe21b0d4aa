"""cli.py: the helper command, fast (no offlineimap run, no server)."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from offlineimap_phantomfix import __version__, cli
from offlineimap_phantomfix.errors import NotFoundError
from offlineimap_phantomfix.store import STORE_FILENAME, PhantomStore
from offlineimap_phantomfix.verdicts import MessageKey, Original, Verdict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PREFIX = "offlineimap-phantomfix: error: "
T0 = datetime(2026, 11, 1, 9, 30, tzinfo=timezone.utc)
JSON_KEYS = {"account", "repository", "folder", "uidvalidity", "uid", "verdict", "skipped", "attempts",
             "first_seen", "last_seen", "server_said", "quarantine", "original", "purged", "recovered_by",
             "size", "flags", "state", "next_step"}
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")



@pytest.fixture(autouse=True)
def _this_offlineimap_first_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """As for a user whose shell runs this installation's offlineimap: doctor tries the import with it."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


@dataclass
class Env:
    root: Path
    config: Path
    state: Path  # the state directory of the Work and Play accounts (shared, default location)
    hook: Path
    records: list[MessageKey] = field(default_factory=list)

    def run(self, *argv: str) -> int:
        return cli.main(["-c", str(self.config), *argv])


def write_config(root: Path, *, work_options: str = "", hook_lines: str | None = None) -> tuple[Path, Path]:
    hook = root / "hook.py"
    hook.write_text(hook_lines if hook_lines is not None
                    else "import offlineimap_phantomfix\nofflineimap_phantomfix.install()\n", encoding="utf-8")
    config = root / "offlineimaprc"
    config.write_text(
        f"""[general]
accounts = Work, Play, Home
metadata = {root / "metadata"}
pythonfile = {hook}

[Account Work]
localrepository = WorkLocal
remoterepository = WorkRemote

[Repository WorkLocal]
type = Maildir
localfolders = {root / "Mail"}

[Repository WorkRemote]
type = PhantomSafeIMAP
remotehost = 127.0.0.1
remoteuser = user
remotepass = secret
{work_options}

[Account Play]
localrepository = PlayLocal
remoterepository = PlayRemote

[Repository PlayLocal]
type = Maildir
localfolders = {root / "Play"}

[Repository PlayRemote]
type = PhantomSafeGmail
remoteuser = user@example.org
remotepass = secret

[Account Home]
localrepository = HomeLocal
remoterepository = HomeRemote

[Repository HomeLocal]
type = Maildir
localfolders = {root / "Home"}

[Repository HomeRemote]
type = IMAP
remotehost = 127.0.0.1
remoteuser = user
remotepass = secret
""",
        encoding="utf-8",
    )
    return config, hook


def add_record(state: Path, account: str, folder: str, uid: int, verdict: Verdict = Verdict.EMPTY, *,
               subject: str | None = None, server_said: str = "OK FETCH completed.") -> MessageKey:
    key = MessageKey(account, f"{account}Remote", folder, 1, uid)
    with PhantomStore(state) as store:
        store.record(key, verdict, skipped=verdict.is_phantom, server_said=server_said,
                     original=Original(subject=subject, sender="Boss <boss@example.org>", date=None)
                     if subject is not None else None, now=T0)
    return key


@pytest.fixture
def env(tmp_path: Path) -> Env:
    config, hook = write_config(tmp_path)
    state = tmp_path / "metadata" / "phantomfix"
    made = Env(tmp_path, config, state, hook)
    made.records += [
        add_record(state, "Work", "INBOX", 7, Verdict.PLACEHOLDER,
                   subject="Budget \x1b[31mreview\x1b[0m\x07 final",
                   server_said="NO \x1b]0;pwned\x07The requested message could not be converted"),
        add_record(state, "Work", "INBOX", 9, Verdict.REFUSED),
        add_record(state, "Work", "Archive", 3, Verdict.DROPPED),
        add_record(state, "Work", "Archive", 4, Verdict.VANISHED),
        add_record(state, "Play", "INBOX", 11, Verdict.EMPTY),
    ]
    return made


def uids(state: Path, account: str | None = None) -> set[tuple[str, str, int]]:
    with PhantomStore(state) as store:
        return {(r.key.account, r.key.folder, r.key.uid) for r in store.records(account=account)}


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(PREFIX), err
    assert "Traceback" not in err
    return lines[0][len(PREFIX):]


# --- report -------------------------------------------------------------------------------------------------

def test_report_text_lists_records_without_control_characters(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    assert env.run("report") == 0
    out = capsys.readouterr().out
    assert "INBOX" in out and "Archive" in out
    for uid in ("7", "9", "3", "11"):
        assert uid in out
    assert "\x1b" not in out and "\x07" not in out
    assert not CONTROL.search(out.replace("\n", ""))


def test_report_account_filter(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    assert env.run("report", "--account", "Play", "--json") == 0
    messages = json.loads(capsys.readouterr().out)["messages"]
    assert [(m["account"], m["folder"], m["uid"]) for m in messages] == [("Play", "INBOX", 11)]


def test_report_json_has_exactly_the_documented_shape(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    assert env.run("report", "--json") == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert set(data) == {"messages"}
    messages = data["messages"]
    assert len(messages) == len(env.records)
    for message in messages:
        assert set(message) == JSON_KEYS
        assert message["original"] is None or set(message["original"]) == {"subject", "from", "date"}
        assert datetime.fromisoformat(message["first_seen"]).tzinfo is not None
    placeholder = next(m for m in messages if m["uid"] == 7)
    assert placeholder["verdict"] == "placeholder"
    assert placeholder["skipped"] is True
    assert placeholder["uidvalidity"] == 1
    assert "Budget" in placeholder["original"]["subject"] and "review" in placeholder["original"]["subject"]
    strings = [value for m in messages for value in _strings(m)]
    assert not any(CONTROL.search(value) for value in strings), strings
    assert {m["verdict"] for m in messages} == {"placeholder", "refused", "dropped", "vanished", "empty"}


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def test_report_new_twice_prints_nothing_the_second_time(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    assert env.run("report", "--new") == 0
    first = capsys.readouterr().out
    assert "INBOX" in first
    assert env.run("report", "--new") == 0
    assert capsys.readouterr().out == ""
    assert env.run("report", "--new", "--json") == 0
    assert capsys.readouterr().out == ""
    add_record(env.state, "Work", "Sent", 42, Verdict.EMPTY)
    assert env.run("report", "--new", "--json") == 0
    messages = json.loads(capsys.readouterr().out)["messages"]
    assert [(m["folder"], m["uid"]) for m in messages] == [("Sent", 42)]
    # a plain report still shows everything
    assert env.run("report", "--json") == 0
    assert len(json.loads(capsys.readouterr().out)["messages"]) == len(env.records) + 1


def test_report_new_of_one_account_leaves_the_others_new(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    assert env.run("report", "--new", "--account", "Work") == 0
    capsys.readouterr()
    assert env.run("report", "--new", "--json") == 0
    messages = json.loads(capsys.readouterr().out)["messages"]
    assert [(m["account"], m["uid"]) for m in messages] == [("Play", 11)]


def test_report_new_readers_do_not_take_each_others_news(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    assert env.run("report", "--new", "cron") == 0
    assert "UID 9" in capsys.readouterr().out
    assert env.run("report", "--new", "cron") == 0
    assert capsys.readouterr().out == ""
    assert env.run("report", "--new", "--json") == 0  # the reader by hand ("default") still has all of it
    assert len(json.loads(capsys.readouterr().out)["messages"]) == len(env.records)
    assert env.run("report", "--new", "mutt", "--account", "Play", "--json") == 0
    assert [m["uid"] for m in json.loads(capsys.readouterr().out)["messages"]] == [11]
    assert env.run("report", "--new", "mutt", "--json") == 0  # Play's news was taken by mutt, Work's was not
    assert {m["account"] for m in json.loads(capsys.readouterr().out)["messages"]} == {"Work"}


def test_report_new_shows_a_record_again_when_its_state_changes(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    assert env.run("report", "--new", "cron") == 0
    capsys.readouterr()
    key = env.records[1]  # Work INBOX 9, refused
    with PhantomStore(env.state) as store:
        store.record(key, Verdict.REFUSED, skipped=True)  # seen again, same state: not news
    assert env.run("report", "--new", "cron") == 0
    assert capsys.readouterr().out == ""
    with PhantomStore(env.state) as store:
        store.record(key, Verdict.RECOVERED, skipped=False, recovered_by="plain fetch after retry")
    assert env.run("report", "--new", "cron", "--json") == 0
    (message,) = json.loads(capsys.readouterr().out)["messages"]
    assert (message["uid"], message["verdict"], message["recovered_by"]) == (9, "recovered", "plain fetch after retry")


def _helper() -> str:
    return str(Path(sys.executable).with_name("offlineimap-phantomfix"))


@pytest.mark.parametrize("reader", ["gone", "disk full"])
def test_report_new_marks_nothing_that_was_not_written_out(env: Env, reader: str,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    argv = [_helper(), "-c", str(env.config), "report", "--new", "cron", "--long"]
    if reader == "gone":  # the reading end is closed before anything is written: BrokenPipeError
        read_end, write_end = os.pipe()
        os.close(read_end)
        try:
            done = subprocess.run(argv, stdout=write_end, stderr=subprocess.PIPE, timeout=120, check=False)
        finally:
            os.close(write_end)
        assert done.stderr == b"", done.stderr
    else:
        with open("/dev/full", "wb") as full:
            done = subprocess.run(argv, stdout=full, stderr=subprocess.PIPE, timeout=120, check=False)
        assert PREFIX.encode() in done.stderr and b"Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1
    assert env.run("report", "--new", "cron", "--json") == 0
    assert len(json.loads(capsys.readouterr().out)["messages"]) == len(env.records)


def test_report_default_is_short_and_long_has_the_detail(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    assert env.run("report", "--account", "Work") == 0
    short = capsys.readouterr().out
    assert "Account Work, 4 undelivered messages: 3 skipped, 1 vanished" in short
    lines = short.splitlines()
    assert len([line for line in lines if "UID 9" in line]) == 1
    assert "server said" not in short and all(len(line) <= 120 for line in lines)
    assert env.run("report", "--account", "Work", "--long") == 0
    assert "server said: OK FETCH completed." in capsys.readouterr().out


def test_report_since(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    with PhantomStore(env.state) as store:
        store.record(MessageKey("Work", "WorkRemote", "Sent", 1, 77), Verdict.EMPTY, skipped=True)
    assert env.run("report", "--since", "2h", "--json") == 0
    assert [m["uid"] for m in json.loads(capsys.readouterr().out)["messages"]] == [77]
    assert env.run("report", "--since", "2h") == 0
    assert "messages seen since" in capsys.readouterr().out.splitlines()[0]
    for bad in ("0", "yesterday", "7x"):
        assert env.run("report", "--since", bad) == 2
        assert "is not a duration" in capsys.readouterr().err


def test_report_local_time_with_offset_or_utc(env: Env, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Kolkata")  # +05:30 all year
    time.tzset()
    try:
        assert env.run("report", "--long") == 0
        local = capsys.readouterr().out
        assert env.run("report", "--long", "--utc") == 0
        utc = capsys.readouterr().out
    finally:
        monkeypatch.undo()
        time.tzset()
    assert local.splitlines()[0].endswith("+05:30") and utc.splitlines()[0].endswith("UTC")
    assert "first 2026-11-01 15:00" in local and "first 2026-11-01 09:30" in utc


def test_clear_finished_removes_only_finished_entries(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    assert env.run("clear", "--finished", "--dry-run") == 0
    assert "would clear: Work Archive UID 4" in capsys.readouterr().out
    assert len(uids(env.state)) == len(env.records)
    assert env.run("clear", "--finished", "--account", "Play") == 0
    assert "0 entries cleared." in capsys.readouterr().out
    assert env.run("clear", "--finished") == 0
    out = capsys.readouterr().out
    assert "cleared: Work Archive UID 4" in out and "nothing is fetched again" in out
    assert ("Work", "Archive", 4) not in uids(env.state) and len(uids(env.state)) == len(env.records) - 1
    assert env.run("clear") == 2
    assert "--finished" in capsys.readouterr().err


def test_report_without_a_store_is_empty_and_creates_nothing(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    config, _ = write_config(tmp_path)
    assert cli.main(["-c", str(config), "report", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"messages": []}
    assert cli.main(["-c", str(config), "report", "--new"]) == 0
    assert capsys.readouterr().out == ""
    assert cli.main(["-c", str(config), "report"]) == 0
    assert capsys.readouterr().err == ""
    assert not (tmp_path / "metadata").exists()


def test_report_unknown_account_is_one_error_line(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    assert env.run("report", "--account", "Nope") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "Nope" in one_error_line(captured.err)


def test_phantom_dir_option_is_where_the_store_is_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    elsewhere = tmp_path / "elsewhere"
    config, _ = write_config(tmp_path, work_options=f"phantom_dir = {elsewhere}")
    add_record(elsewhere, "Work", "INBOX", 5)
    add_record(tmp_path / "metadata" / "phantomfix", "Play", "INBOX", 6)
    assert cli.main(["-c", str(config), "report", "--json"]) == 0
    messages = json.loads(capsys.readouterr().out)["messages"]
    assert sorted((m["account"], m["uid"]) for m in messages) == [("Play", 6), ("Work", 5)]


# --- clear --------------------------------------------------------------------------------------------------

def test_clear_one_uid(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    assert env.run("clear", "--account", "Work", "--folder", "INBOX", "--uid", "7") == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and "INBOX UID 7" in out[0] and out[1].startswith("1 entry cleared")
    assert ("Work", "INBOX", 7) not in uids(env.state)
    assert len(uids(env.state)) == len(env.records) - 1


def test_clear_folder_and_account_scopes(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    assert env.run("clear", "--account", "Work", "--folder", "Archive") == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("2 entries cleared")
    assert uids(env.state) == {("Work", "INBOX", 7), ("Work", "INBOX", 9), ("Play", "INBOX", 11)}
    assert env.run("clear", "--account", "Work") == 0
    assert uids(env.state) == {("Play", "INBOX", 11)}
    capsys.readouterr()
    assert env.run("clear", "--account", "Work") == 0
    assert capsys.readouterr().out == "0 entries cleared.\n"


def test_clear_all(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    assert env.run("clear", "--all") == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(env.records) + 1
    assert lines[-1].startswith(f"{len(env.records)} entries cleared")
    assert uids(env.state) == set()


def test_clear_dry_run_changes_nothing(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    before = uids(env.state)
    assert env.run("clear", "--all", "--dry-run") == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(line.startswith("would clear: ") for line in lines[:-1])
    assert len(lines) == len(env.records) + 1
    assert "dry run" in lines[-1]
    assert uids(env.state) == before


def test_clear_without_a_store_creates_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, _ = write_config(tmp_path)
    assert cli.main(["-c", str(config), "clear", "--all"]) == 0
    assert capsys.readouterr().out == "0 entries cleared.\n"
    assert not (tmp_path / "metadata").exists()


def test_clear_strips_control_characters_from_folder_names(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    add_record(env.state, "Work", "Evil\x1b[2J\rFolder", 1)
    assert env.run("clear", "--account", "Work", "--dry-run") == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out
    assert "EvilFolder" in out or "Evil Folder" in out


@pytest.mark.parametrize("argv", [
    ["clear", "--account", "Work", "--uid", "7"],
    ["clear", "--all", "--folder", "INBOX"],
    ["clear", "--all", "--account", "Work"],
    ["clear"],
    ["clear", "--account", "Work", "--folder", "INBOX", "--uid", "x"],
    ["clear", "--account", "Work", "--folder", "INBOX", "--uid", "0"],
    [],
    ["frobnicate"],
    ["probe", "--account", "Work", "--folder", "INBOX"],
    ["purge", "--account", "Work", "--uid", "3"],
], ids=["uid-without-folder", "folder-without-account", "all-and-account", "no-scope", "uid-not-number",
        "uid-zero", "no-subcommand", "unknown-subcommand", "probe-without-uid", "purge-without-folder"])
def test_usage_errors_exit_2(env: Env, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    before = uids(env.state)
    assert env.run(*argv) == 2
    err = capsys.readouterr().err
    assert "usage:" in err and "Traceback" not in err
    assert uids(env.state) == before


# --- errors -------------------------------------------------------------------------------------------------

def test_missing_config_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["-c", str(tmp_path / "nope"), "report"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "nope" in one_error_line(captured.err)


def test_default_config_is_looked_up_like_offlineimap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert cli.main(["report"]) == 1
    assert ".offlineimaprc" in one_error_line(capsys.readouterr().err)
    (tmp_path / "xdg" / "offlineimap").mkdir(parents=True)
    config, _ = write_config(tmp_path)
    config.rename(tmp_path / "xdg" / "offlineimap" / "config")
    assert cli.main(["report", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"messages": []}


def test_broken_config_syntax_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "offlineimaprc"
    config.write_text("[general]\naccounts = Work\nthis line has no equals sign\n[general]\n", encoding="utf-8")
    for argv in (["report"], ["clear", "--all"], ["doctor"]):
        assert cli.main(["-c", str(config), *argv]) == 1
        captured = capsys.readouterr()
        if argv == ["doctor"]:
            assert captured.out.startswith("error") and len(captured.out.splitlines()) == 1
            assert "Traceback" not in captured.out + captured.err
        else:
            assert str(config) in one_error_line(captured.err)


def test_bad_phantom_option_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, _ = write_config(tmp_path, work_options="phantom_retry_after = soon")
    assert cli.main(["-c", str(config), "report", "--account", "Work"]) == 1
    assert "phantom_retry_after" in one_error_line(capsys.readouterr().err)


def test_unreadable_state_directory_is_one_line(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    if os.geteuid() == 0:
        # root reads any directory; a state directory that is a file is just as unusable
        moved = env.state.with_name("moved")
        env.state.rename(moved)
        env.state.write_text("not a directory", encoding="utf-8")
    else:
        env.state.chmod(0)
    try:
        for argv in (["report"], ["clear", "--all"], ["report", "--new"]):
            assert env.run(*argv) == 1
            captured = capsys.readouterr()
            assert captured.out == ""
            assert str(env.state) in one_error_line(captured.err)
    finally:
        if os.geteuid() != 0:
            env.state.chmod(0o700)


def test_store_file_that_is_a_directory_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, _ = write_config(tmp_path)
    (tmp_path / "metadata" / "phantomfix" / STORE_FILENAME).mkdir(parents=True)
    assert cli.main(["-c", str(config), "report"]) == 1
    assert STORE_FILENAME in one_error_line(capsys.readouterr().err)


def test_as_a_program_errors_have_no_traceback(tmp_path: Path) -> None:
    env_vars = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run([sys.executable, "-m", "offlineimap_phantomfix", "-c", str(tmp_path / "missing"),
                             "report"], capture_output=True, text=True, env=env_vars, check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    one_error_line(result.stderr)
    version = subprocess.run([sys.executable, "-m", "offlineimap_phantomfix", "--version"], capture_output=True,
                             text=True, env=env_vars, check=False)
    assert version.returncode == 0
    assert version.stdout.strip() == f"offlineimap-phantomfix {__version__}"


# --- probe and purge (their modules replaced by fakes: only the wiring is tested here) -------------------

@pytest.fixture
def fake_tools(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    calls: dict[str, Any] = {}

    def run_probe(config: Any, account: str, folder: str, uid: int) -> Any:
        calls["probe"] = (account, folder, uid)
        if uid == 666:
            raise NotFoundError(f"no UID {uid} in {folder}")
        if uid == 130:
            raise KeyboardInterrupt
        return types.SimpleNamespace(transcript="C: a1 LOGIN user <redacted>\nS: a1 OK\x1b[5m done\n",
                                     verdict="verdict: empty \x07(listed, no data)")

    def run_purge(config: Any, account: str, folder: str, uid: int, *, yes: bool) -> Any:
        calls["purge"] = (account, folder, uid, yes)
        verb = "deleted" if yes else "would delete"
        return types.SimpleNamespace(lines=[f"{verb} {folder} UID {uid}\x1b[0m"], done=yes)

    monkeypatch.setitem(sys.modules, "offlineimap_phantomfix.probe", types.SimpleNamespace(run_probe=run_probe))
    monkeypatch.setitem(sys.modules, "offlineimap_phantomfix.purge", types.SimpleNamespace(run_purge=run_purge))
    return calls


def test_probe_prints_and_writes_a_private_transcript(env: Env, fake_tools: dict[str, Any],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    output = env.root / "probe.txt"
    assert env.run("probe", "--account", "Work", "--folder", "INBOX", "--uid", "7", "--output", str(output)) == 0
    assert fake_tools["probe"] == ("Work", "INBOX", 7)
    out = capsys.readouterr().out
    assert out.splitlines() == ["C: a1 LOGIN user <redacted>", "S: a1 OK done", "verdict: empty (listed, no data)"]
    assert output.read_text(encoding="utf-8") == out
    assert stat.S_IMODE(output.stat().st_mode) == 0o600


def test_probe_errors_and_interrupts(env: Env, fake_tools: dict[str, Any],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert env.run("probe", "--account", "Work", "--folder", "INBOX", "--uid", "666") == 1
    assert "UID 666" in one_error_line(capsys.readouterr().err)
    assert env.run("probe", "--account", "Nope", "--folder", "INBOX", "--uid", "1") == 1
    assert "Nope" in one_error_line(capsys.readouterr().err)
    assert env.run("probe", "--account", "Work", "--folder", "INBOX", "--uid", "130") == 130
    assert capsys.readouterr().err == ""


def test_purge_without_yes_only_says_what_it_would_do(env: Env, fake_tools: dict[str, Any],
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert env.run("purge", "--account", "Work", "--folder", "INBOX", "--uid", "9") == 0
    assert fake_tools["purge"] == ("Work", "INBOX", 9, False)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "would delete INBOX UID 9"
    assert "--yes" in lines[-1]
    assert env.run("purge", "--account", "Work", "--folder", "INBOX", "--uid", "9", "--yes") == 0
    assert fake_tools["purge"] == ("Work", "INBOX", 9, True)
    assert capsys.readouterr().out == "deleted INBOX UID 9\n"


# --- doctor -------------------------------------------------------------------------------------------------

def doctor_lines(out: str) -> dict[str, str]:
    result = {}
    for line in out.splitlines():
        verdict, _, rest = line.partition(" ")
        assert verdict in ("ok", "warning", "error"), line
        what = rest.strip().split(": ", 1)[0]
        if what.startswith("account "):
            what = ": ".join(rest.strip().split(": ", 2)[:2])
        result[what] = verdict
    return result


def test_doctor_healthy(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    assert env.run("doctor") == 0
    out = capsys.readouterr().out
    verdicts = doctor_lines(out)
    assert verdicts["config"] == "ok"
    assert verdicts["activation"] == "ok"
    assert verdicts["account Work: type"] == "ok"
    assert verdicts["account Play: type"] == "ok"
    assert verdicts["account Home: type"] == "warning"
    assert "not active" in next(line for line in out.splitlines() if "account Home: type" in line)
    assert verdicts["account Work: options"] == "ok"
    assert verdicts["account Work: state directory"] == "ok"
    assert verdicts["account Work: store"] == "ok"
    assert "integrity ok" in out and "5 records" in out


def test_doctor_without_activation_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, _ = write_config(tmp_path, hook_lines="# offlineimap_phantomfix.install()\n")
    assert cli.main(["-c", str(config), "doctor"]) == 0
    out = capsys.readouterr().out
    assert doctor_lines(out)["activation"] == "warning"
    assert "offlineimap-phantomsafe" in out
    # a state directory that does not exist yet is fine, and doctor does not create it
    assert doctor_lines(out)["account Work: state directory"] == "ok"
    assert not (tmp_path / "metadata").exists()


def test_doctor_accepts_the_from_import_form(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, _ = write_config(tmp_path, hook_lines="from offlineimap_phantomfix import install\ninstall()\n")
    assert cli.main(["-c", str(config), "doctor"]) == 0
    assert doctor_lines(capsys.readouterr().out)["activation"] == "ok"


def test_doctor_reports_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, hook = write_config(tmp_path, work_options="phantom_action = delete")
    hook.unlink()
    state = tmp_path / "metadata" / "phantomfix"
    state.mkdir(parents=True, mode=0o755)
    state.chmod(0o755)
    assert cli.main(["-c", str(config), "doctor"]) == 1
    out = capsys.readouterr().out
    verdicts = doctor_lines(out)
    assert verdicts["activation"] == "error"
    assert verdicts["account Work: options"] == "error"
    assert "phantom_action" in out
    assert verdicts["account Play: state directory"] == "warning"  # mode 0755
    assert "0755" in out


def test_doctor_damaged_store(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    (env.state / STORE_FILENAME).write_bytes(b"this is not an SQLite database" * 100)
    for suffix in ("-wal", "-shm"):
        (env.state / f"{STORE_FILENAME}{suffix}").unlink(missing_ok=True)
    env.run("doctor")
    out = capsys.readouterr().out
    assert doctor_lines(out)["account Work: store"] in ("warning", "error")
    assert "Traceback" not in out


def test_doctor_missing_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["-c", str(tmp_path / "none"), "doctor"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("error") and len(out.splitlines()) == 1


# --- help and documentation ---------------------------------------------------------------------------------

def subcommands() -> dict[str, Any]:
    parser = cli.build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    helps = {choice.dest: choice.help for choice in action._choices_actions}  # type: ignore[attr-defined]
    return {name: (sub, helps.get(name)) for name, sub in action.choices.items()}  # type: ignore[union-attr]


def test_every_subcommand_has_help_and_is_in_the_readme() -> None:
    commands = subcommands()
    assert set(commands) == {"report", "clear", "probe", "purge", "doctor", "demo", "adopt"}
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    for name, (sub, help_text) in commands.items():
        assert help_text and help_text.strip(), f"{name} has no help text"
        assert sub.description and sub.description.strip()
        for option in sub._actions:
            if option.option_strings and option.dest != "help":
                assert option.help and option.help.strip(), f"{name} {option.option_strings} has no help"
                assert any(flag in readme for flag in option.option_strings), f"{name} {option.option_strings}"
        assert re.search(rf"offlineimap-phantomfix (?:-c \S+ )?{name}\b", readme), f"{name} not in README.md"


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in subcommands():
        assert name in out
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"offlineimap-phantomfix {__version__}"
    for name in subcommands():
        assert cli.main([name, "--help"]) == 0
        assert capsys.readouterr().out.startswith(f"usage: offlineimap-phantomfix {name}")


def test_help_imports_nothing_of_offlineimap() -> None:
    """Each command imports what it needs when it runs: ``--help`` works, and stays fast, without offlineimap."""
    code = ("import sys\n"
            "from offlineimap_phantomfix import cli\n"
            "for argv in ([], ['report'], ['clear'], ['probe'], ['purge'], ['adopt'], ['doctor'], ['demo']):\n"
            "    assert cli.main([*argv, '--help']) == 0\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('offlineimap', 'imaplib2')))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"
