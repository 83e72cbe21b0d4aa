"""probe and purge against the emulator, through offlineimap's own connection code.

The probe's verdict is compared with what a real PhantomSafeIMAP sync (the offlineimap program) records for
the same mailbox; every transcript is written to a file and searched for the password.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from offlineimap_phantomfix import cli
from offlineimap_phantomfix.config import PhantomConfig
from offlineimap_phantomfix.errors import (
    ConfigError,
    NotFoundError,
    PhantomFixError,
    ServerError,
    UnsafeOperationError,
)
from offlineimap_phantomfix.probe import run_probe
from offlineimap_phantomfix.purge import run_purge
from offlineimap_phantomfix.store import PhantomStore
from offlineimap_phantomfix.testing import (
    ACTIVATION_LINES,
    BYE_DROPPED,
    REFUSED_BAD_TEXT,
    REFUSED_NO_TEXT,
    EmulatorServer,
    Fault,
    make_message,
    run_offlineimap,
    write_offlineimaprc,
)
from offlineimap_phantomfix.verdicts import MessageKey, Verdict

pytestmark = pytest.mark.e2e

ACTIVATION = list(ACTIVATION_LINES)
WRITE_COMMANDS = {"SELECT", "STORE", "UID STORE", "EXPUNGE", "UID EXPUNGE", "APPEND", "COPY", "UID COPY", "CLOSE"}

# What the transcript must show of each fault: the server's own words or the probe's note on the answer.
SHOWS = {
    Fault.EMPTY: "=> empty: the server answered OK but sent no data for UID",
    Fault.PLACEHOLDER: "Subject: Retrieval using the IMAP4 protocol failed for the following message:",
    Fault.PLACEHOLDER_PEEK: "Subject: Retrieval using the IMAP4 protocol failed for the following message:",
    Fault.REFUSED_NO: f"NO {REFUSED_NO_TEXT}",
    Fault.REFUSED_BAD: f"BAD {REFUSED_BAD_TEXT}",
    Fault.DROPPED: f"S: {BYE_DROPPED}",
    Fault.VANISH: "EXPUNGEISSUED",
    Fault.SEQUENCE_ONLY: "=> delivered:",
}


def _mailbox(server: EmulatorServer, fault: Fault | None) -> int:
    server.reset()
    server.append("INBOX", make_message(1), flags=["\\Seen"])
    uid = server.append("INBOX", make_message(2, subject="Quarterly figures"), fault=fault)
    server.append("INBOX", make_message(3), flags=["\\Flagged"])
    return uid


def _snapshot(server: EmulatorServer) -> list[tuple[int, frozenset[str], bytes]]:
    return [(m.uid, frozenset(m.flags), m.raw) for m in server.messages("INBOX")]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _assert_no_password(password: str, *texts: str) -> None:
    for text in texts:
        assert password not in text


@pytest.fixture
def config_for(tmp_path: Path) -> Iterator[Any]:
    counter = iter(range(1000))

    def make(server: EmulatorServer, **kwargs: Any) -> tuple[PhantomConfig, Any]:
        kwargs.setdefault("repo_type", "PhantomSafeIMAP")
        kwargs.setdefault("password", server.password)
        kwargs.setdefault("user", server.user)
        setup = write_offlineimaprc(tmp_path / f"rc{next(counter)}", port=server.port, pythonfile_lines=ACTIVATION,
                                    **kwargs)
        return PhantomConfig.load(setup.config), setup

    yield make


# --- probe: every fault, and the same verdict as the sync --------------------------------------------------

@pytest.mark.parametrize("fault", list(SHOWS), ids=[f.value for f in SHOWS])
def test_probe_shows_the_fault_and_agrees_with_the_sync(emulator: EmulatorServer, config_for: Any, tmp_path: Path,
                                                        fault: Fault) -> None:
    uid = _mailbox(emulator, fault)
    config, setup = config_for(emulator)
    synced = run_offlineimap(setup)
    assert "Traceback" not in synced.output, synced.output
    with PhantomStore(setup.metadata / "phantomfix") as store:
        recorded = [r for r in store.records() if r.key.uid == uid]
    assert len(recorded) == 1, synced.output
    sync_verdict = recorded[0].verdict

    uid = _mailbox(emulator, fault)  # the same mailbox again (the sync may have used up a VANISH)
    before = _snapshot(emulator)
    result = run_probe(config, "Test", "INBOX", uid)
    transcript = _write(tmp_path / "probe.txt", result.transcript + result.verdict + "\n").read_text()

    assert result.outcome is sync_verdict
    assert result.verdict.startswith(f"verdict: {sync_verdict.value}: ")
    assert "\n" not in result.verdict
    assert SHOWS[fault] in transcript
    assert "EXAMINE INBOX" in transcript
    assert "C: a" in transcript and "S: a" in transcript
    _assert_no_password(emulator.password, transcript, result.verdict)
    assert "AUTHENTICATE PLAIN" in transcript and "<redacted>" in transcript
    assert not [e.line for e in emulator.log if e.command in WRITE_COMMANDS]
    after = _snapshot(emulator)
    if fault is Fault.VANISH:  # the server itself expunged it; the others are untouched
        assert after == [m for m in before if m[0] != uid]
    else:
        assert after == before


def test_probe_of_a_healthy_message(emulator: EmulatorServer, config_for: Any) -> None:
    uid = _mailbox(emulator, None)
    config, _ = config_for(emulator, repo_type="IMAP")  # a stock repository works as well
    before = _snapshot(emulator)
    result = run_probe(config, "Test", "INBOX", uid)
    assert result.delivered and result.outcome is None
    assert result.verdict == f"verdict: delivered: UID {uid} was delivered by the plain fetch (what offlineimap " \
                             "sends); it is not a phantom"
    assert "recovered" not in result.verdict
    assert "| Subject: Quarterly figures" in result.transcript
    for form in ("UID FETCH 2 (BODY.PEEK[])", "UID FETCH 2 (BODY[])", "FETCH 2 (UID BODY.PEEK[])",
                 "FETCH 2 (UID BODY[])", "UID FETCH 2 (BODY.PEEK[HEADER])", "UID FETCH 2 (BODYSTRUCTURE)",
                 "UID FETCH 2 (RFC822.SIZE)", "UID FETCH 2 (FLAGS)", "UID FETCH 2 (INTERNALDATE)",
                 "UID SEARCH UID 2" if "UID SEARCH" in result.transcript else "UID FETCH 2 (UID FLAGS)"):
        assert form in result.transcript
    assert "fallback ladder" not in result.transcript  # nothing to recover
    assert _snapshot(emulator) == before  # BODY[] under EXAMINE did not set \Seen
    assert not [e.line for e in emulator.log if e.command in WRITE_COMMANDS]


def test_probe_with_login_and_a_quoted_password(tmp_path: Path, config_for: Any) -> None:
    password = 'p"w\\Zq9 secret'
    with EmulatorServer(password=password) as server:
        uid = _mailbox(server, Fault.REFUSED_NO)
        config, _ = config_for(server, remote_options={"auth_mechanisms": "LOGIN"})
        result = run_probe(config, "Test", "INBOX", uid)
        path = _write(tmp_path / "login.txt", result.transcript)
    assert "C: a003 LOGIN <redacted> <redacted>" in path.read_text()
    _assert_no_password(password, path.read_text(), result.verdict)
    _assert_no_password('p\\"w\\\\Zq9 secret', path.read_text())


def test_probe_through_the_command_line_writes_a_private_transcript(emulator: EmulatorServer, config_for: Any,
                                                                     tmp_path: Path, capsys: Any) -> None:
    uid = _mailbox(emulator, Fault.PLACEHOLDER)
    _, setup = config_for(emulator)
    output = tmp_path / "out" / "transcript.txt"
    output.parent.mkdir()
    code = cli.main(["-c", str(setup.config), "probe", "--account", "Test", "--folder", "INBOX", "--uid", str(uid),
                     "--output", str(output)])
    assert code == 0, capsys.readouterr()
    text = output.read_text()
    assert "verdict: placeholder:" in text
    assert output.stat().st_mode & 0o077 == 0
    _assert_no_password(emulator.password, text, capsys.readouterr().out)


# --- probe: handled failures are one line -----------------------------------------------------------------

def _one_line_error(error: PhantomFixError, password: str) -> str:
    text = str(error)
    assert "\n" not in text and text
    assert password not in text
    return text


def test_wrong_password(emulator: EmulatorServer, config_for: Any) -> None:
    config, _ = config_for(emulator, password="not-the-right-one")
    with pytest.raises(ServerError) as raised:
        run_probe(config, "Test", "INBOX", 1)
    text = _one_line_error(raised.value, "not-the-right-one")
    assert text.startswith(f"login to 127.0.0.1:{emulator.port} as user failed: ")
    assert "failed." in text  # the server's words


def test_wrong_password_for_purge_too(emulator: EmulatorServer, config_for: Any) -> None:
    config, _ = config_for(emulator, password="not-the-right-one")
    with pytest.raises(ServerError, match=r"^login to .* as user failed"):
        run_purge(config, "Test", "INBOX", 1, yes=True)


def test_unreachable_port(config_for: Any) -> None:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    server = EmulatorServer(port=port)  # never started: nothing listens there
    config, _ = config_for(server)
    with pytest.raises(ServerError) as raised:
        run_probe(config, "Test", "INBOX", 1)
    assert _one_line_error(raised.value, server.password) == f"cannot connect to 127.0.0.1:{port}: connection refused"


def test_no_password_configured_does_not_prompt(emulator: EmulatorServer, config_for: Any, monkeypatch: Any) -> None:
    config, setup = config_for(emulator)
    text = setup.config.read_text().replace(f"remotepass = {emulator.password}\n", "")
    setup.config.write_text(text)
    (setup.workdir / "home").mkdir()
    monkeypatch.setenv("HOME", str(setup.workdir / "home"))  # no ~/.netrc to find a password in
    config = PhantomConfig.load(setup.config)
    with pytest.raises(ConfigError, match=r"no password for user at 127\.0\.0\.1"):
        run_probe(config, "Test", "INBOX", 1)


def test_remotepasseval_from_the_pythonfile(emulator: EmulatorServer, config_for: Any) -> None:
    uid = _mailbox(emulator, Fault.EMPTY)
    _, setup = config_for(emulator)
    setup.pythonfile.write_text(setup.pythonfile.read_text() + f"def get_pass():\n    return {emulator.password!r}\n")
    text = setup.config.read_text().replace(f"remotepass = {emulator.password}\n", "remotepasseval = get_pass()\n")
    setup.config.write_text(text)
    result = run_probe(PhantomConfig.load(setup.config), "Test", "INBOX", uid)
    assert result.outcome is Verdict.EMPTY
    _assert_no_password(emulator.password, result.transcript)


def test_unknown_account(emulator: EmulatorServer, config_for: Any) -> None:
    config, _ = config_for(emulator)
    with pytest.raises(NotFoundError) as raised:
        run_probe(config, "Nope", "INBOX", 1)
    _one_line_error(raised.value, emulator.password)


def test_unknown_folder(emulator: EmulatorServer, config_for: Any) -> None:
    _mailbox(emulator, None)
    config, _ = config_for(emulator)
    with pytest.raises(NotFoundError) as raised:
        run_probe(config, "Test", "Archive/2016", 1)
    assert "no folder 'Archive/2016'" in _one_line_error(raised.value, emulator.password)
    with pytest.raises(NotFoundError):
        run_purge(config, "Test", "Archive/2016", 1, yes=True)


def test_missing_uid(emulator: EmulatorServer, config_for: Any) -> None:
    _mailbox(emulator, None)
    config, _ = config_for(emulator)
    with pytest.raises(NotFoundError) as raised:
        run_probe(config, "Test", "INBOX", 15541)
    assert "no message with UID 15541" in _one_line_error(raised.value, emulator.password)
    with pytest.raises(NotFoundError):
        run_purge(config, "Test", "INBOX", 15541, yes=True)
    assert not [e.line for e in emulator.log if e.command in WRITE_COMMANDS - {"SELECT"}]


# --- purge -------------------------------------------------------------------------------------------------

def _deleted_elsewhere(server: EmulatorServer) -> int:
    """INBOX: UID 1 already \\Deleted (someone's pending delete), UID 2 the phantom, UID 3 normal."""
    server.reset()
    server.append("INBOX", make_message(1), flags=["\\Deleted", "\\Seen"])
    uid = server.append("INBOX", make_message(2), fault=Fault.EMPTY)
    server.append("INBOX", make_message(3))
    return uid


def test_purge_without_yes_changes_nothing(emulator: EmulatorServer, config_for: Any) -> None:
    uid = _deleted_elsewhere(emulator)
    config, _ = config_for(emulator)
    before = _snapshot(emulator)
    result = run_purge(config, "Test", "INBOX", uid, yes=False)
    assert not result.done
    assert any("would run: UID EXPUNGE 2" in line for line in result.lines)
    assert _snapshot(emulator) == before
    assert not [e.line for e in emulator.log if e.command in WRITE_COMMANDS]


def test_purge_with_uidplus_removes_only_the_target(emulator: EmulatorServer, config_for: Any) -> None:
    uid = _deleted_elsewhere(emulator)
    config, _ = config_for(emulator)
    before = _snapshot(emulator)
    result = run_purge(config, "Test", "INBOX", uid, yes=True)
    assert result.done
    assert _snapshot(emulator) == [m for m in before if m[0] != uid]  # UID 1 is still there, still \Deleted
    commands = [e.command for e in emulator.log]
    assert "UID EXPUNGE" in commands and "EXPUNGE" not in commands
    assert "verified: UID 2 is gone" in result.lines[-1]


def test_purge_without_uidplus_refuses_when_another_message_is_deleted(config_for: Any) -> None:
    with EmulatorServer(uidplus=False) as server:
        uid = _deleted_elsewhere(server)
        config, _ = config_for(server)
        before = _snapshot(server)
        dry = run_purge(config, "Test", "INBOX", uid, yes=False)
        assert any(line.startswith("would refuse:") for line in dry.lines)
        with pytest.raises(UnsafeOperationError) as raised:
            run_purge(config, "Test", "INBOX", uid, yes=True)
        assert "1 other message (UID 1)" in _one_line_error(raised.value, server.password)
        assert _snapshot(server) == before
        assert not [e.line for e in server.log if e.command in WRITE_COMMANDS - {"SELECT"}]


def test_purge_without_uidplus_when_the_target_is_the_only_deleted(config_for: Any) -> None:
    with EmulatorServer(uidplus=False) as server:
        uid = _mailbox(server, Fault.DROPPED)
        config, _ = config_for(server)
        before = _snapshot(server)
        result = run_purge(config, "Test", "INBOX", uid, yes=True)
        assert result.done
        assert _snapshot(server) == [m for m in before if m[0] != uid]
        assert "EXPUNGE" in [e.command for e in server.log]


def test_purge_checks_uidvalidity_and_marks_the_record(emulator: EmulatorServer, config_for: Any) -> None:
    uid = _mailbox(emulator, Fault.EMPTY)
    config, setup = config_for(emulator)
    directory = setup.metadata / "phantomfix"
    with PhantomStore(directory) as store:
        store.record(MessageKey("Test", "TestRemote", "INBOX", 7, uid), Verdict.EMPTY, skipped=True)
    before = _snapshot(emulator)
    with pytest.raises(UnsafeOperationError, match="UIDVALIDITY 1 now, but UID 2 was recorded under "
                                                   "UIDVALIDITY 7"):
        run_purge(config, "Test", "INBOX", uid, yes=True)
    assert _snapshot(emulator) == before

    with PhantomStore(directory) as store:
        store.record(MessageKey("Test", "TestRemote", "INBOX", 1, uid), Verdict.EMPTY, skipped=True)
    result = run_purge(config, "Test", "INBOX", uid, yes=True)
    assert result.done and "marked 1 record purged" in result.lines[-1]
    with PhantomStore(directory) as store:
        by_validity = {r.key.uidvalidity: r for r in store.records(account="Test")}
    assert by_validity[1].purged and not by_validity[1].skipped
    assert not by_validity[7].purged
    assert _snapshot(emulator) == [m for m in before if m[0] != uid]
