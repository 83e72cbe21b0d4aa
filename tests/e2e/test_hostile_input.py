"""Hostile input end to end, the real offlineimap against the emulator: folder names a server may send
(modified UTF-7, ``..``, ``/``, control characters, over 255 bytes), subjects and senders with escape sequences,
CR/LF, NUL and invalid UTF-8, a 1 MB header, a substitute with broken quoted-printable.

No crash, no file outside the Maildir and state roots, no raw control character in the terminal output, the
report (text and JSON) or a probe transcript.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from offlineimap_phantomfix import cli
from offlineimap_phantomfix.testing import EmulatorServer, Fault
from offlineimap_phantomfix.testing.harness import OfflineimapSetup, read_maildir
from offlineimap_phantomfix.testing.messages import exchange_substitute, make_message
from offlineimap_phantomfix.testing.scenarios import healthy_mailbox
from offlineimap_phantomfix.verdicts import Verdict

from .phantomsafe_helpers import assert_mailbox_synced, normalized, phantomsafe_setup, records, sync

pytestmark = [pytest.mark.e2e, pytest.mark.hostile]

RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x9b\u202e]")
FOLDERS = {
    "Entw&APw-rfe": True,  # modified UTF-7 (Entwürfe): synced as offlineimap names it
    "Caf&AOk-/Men&APw-": True,  # a sub-folder, both parts in modified UTF-7
    "../../escape": False,
    "..": False,
    "a/../../b": False,
    "Bell\x07\x1b[2Jname": False,
    "Tab\tname": False,
    "L" * 300: False,
}


def helper(setup: OfflineimapSetup, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        status = cli.main(["-c", str(setup.config), *argv])
    return status, out.getvalue()


def assert_clean(where: str, text: str) -> None:
    match = RAW_CONTROL.search(text)
    if match is not None:
        around = text[max(match.start() - 80, 0):match.end() + 80]
        raise AssertionError(f"raw control character {match.group()!r} in {where}: {around!r}")


def assert_only_inside_roots(tmp_path: Path, setup: OfflineimapSetup) -> None:
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"], "something was written next to the work dir"
    allowed = (setup.maildir, setup.metadata)
    for path in setup.workdir.rglob("*"):
        if path in (setup.config, setup.pythonfile):
            continue
        assert any(root == path or root in path.parents for root in allowed), f"file outside the roots: {path}"
        assert path.resolve().is_relative_to(setup.workdir.resolve()), path


def assert_report_clean(setup: OfflineimapSetup) -> list[dict[str, Any]]:
    status, text = helper(setup, "report")
    assert status == 0, text
    assert_clean("the report", text)
    report_file = setup.metadata / "phantomfix" / "report-Test.txt"
    if report_file.exists():
        assert_clean("the report file", report_file.read_text(encoding="utf-8"))
    status, text = helper(setup, "report", "--json")
    assert status == 0, text
    messages: list[dict[str, Any]] = json.loads(text)["messages"]
    assert_clean("report --json values", json.dumps(messages, ensure_ascii=False).replace("\\", ""))
    for message in messages:
        for value in [*message.values(), *(message.get("original") or {}).values()]:
            if isinstance(value, str):
                assert_clean("a report --json value", value)
    return messages


def test_hostile_folder_names(emulator: EmulatorServer, tmp_path: Path) -> None:
    for n, name in enumerate(FOLDERS, start=1):
        emulator.add_folder(name)
        emulator.append(name, make_message(n, subject=f"in folder {n}"))
    emulator.append("INBOX", make_message(99, subject="phantom"), fault=Fault.EMPTY)
    healthy_mailbox(emulator, {"INBOX": 3}, start=100)
    setup = phantomsafe_setup(tmp_path / "work", emulator, maxconnections=3)

    for _ in range(2):
        result = sync(setup)
        assert result.returncode == 0, result.output
        assert_clean("the sync's output", result.output)
    local = read_maildir(setup.maildir)
    for n, (name, synced) in enumerate(FOLDERS.items(), start=1):
        local_name = name.replace("/", ".")
        if synced:
            wanted = normalized(make_message(n, subject=f"in folder {n}"))
            assert [normalized(m.raw) for m in local[local_name]] == [wanted]
        else:
            assert all(f"in folder {n}".encode() not in m.raw for msgs in local.values() for m in msgs)
    refused = [line for line in result.output.splitlines() if "not syncing the server folder" in line]
    assert len(refused) == sum(not synced for synced in FOLDERS.values()), result.output
    assert [r.key.folder for r in records(setup)] == ["INBOX"]
    assert_only_inside_roots(tmp_path, setup)
    assert_report_clean(setup)



HOSTILE_SUBJECTS = {
    "escape": "Invoice \x1b[2J\x1b]0;pwned\x07 \x9b31m due \u202etxt.exe".encode(),
    "crlf-encoded-word": b"=?utf-8?b?" + base64.b64encode(b"a\r\nBcc: victim@example.org\r\n\r\nbody") + b"?=",
    "nul": b"Hello\x00World",
    "invalid-utf8": b"Caf\xe9 \xff\xfe \xc3\x28 broken",
}


def _hostile_message(n: int, subject: bytes, sender: bytes) -> bytes:
    return (b"From: " + sender + b"\r\nTo: user@example.org\r\nSubject: " + subject
            + b"\r\nDate: Mon, 04 Mar 2024 09:15:00 +0000\r\nMessage-ID: <hostile-%d@example.org>\r\n" % n
            + b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            + b"Content-Transfer-Encoding: 8bit\r\n\r\nbody %d\r\n" % n)


def _big_header_message(n: int) -> bytes:
    line = b"X-Padding: " + b"p" * 60
    folded = b"\r\n ".join([line] + [b"q" * 70] * 15_000)  # about 1 MB of one folded header
    return folded + b"\r\n" + make_message(n, subject="a message with a 1 MB header")


def _broken_qp_substitute(uid: int) -> bytes:
    raw = exchange_substitute(uid, subject="Quarterly figures", sender="Bob <bob@example.com>",
                              sent="Monday, March 4, 2024 9:15 AM")
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b'"Quarterly figures"' in body and b"=\r\n" in body
    body = body.replace(b'"Quarterly figures"', b'"Quarterly=G1 figures =e9t=C3=A9 =Z"', 1)  # bad escapes
    body = body.replace(b"=\r\n", b"=\n", 1)  # a soft break before a bare LF
    return head + b"\r\n\r\n" + body.rstrip(b"\r\n") + b"="  # and a soft break cut off at the end


def test_hostile_subjects_senders_headers_and_substitutes(emulator: EmulatorServer, tmp_path: Path,
                                                          capsys: Any) -> None:
    phantoms: set[tuple[str, int]] = set()
    n = 0
    for subject in HOSTILE_SUBJECTS.values():
        for sender in (b"Mallory \x1b[31m<mallory@example.org>", b"=?utf-8?q?Eve=0D=0A=00?= <eve@example.org>",
                       b"\xff\xfe <x@example.org>"):
            n += 1
            emulator.append("INBOX", _hostile_message(n, subject, sender))  # healthy: synced byte for byte
            n += 1
            uid = emulator.append("INBOX", _hostile_message(n, subject, sender), fault=Fault.PLACEHOLDER)
            phantoms.add(("INBOX", uid))
    emulator.append("INBOX", _big_header_message(500))
    uid = emulator.append("INBOX", make_message(501, subject="Quarterly figures"), fault=Fault.PLACEHOLDER)
    emulator.set_substitute("INBOX", uid, _broken_qp_substitute(uid))
    phantoms.add(("INBOX", uid))
    broken_qp = uid
    uid = emulator.append("INBOX", _big_header_message(502), fault=Fault.REFUSED_NO)
    phantoms.add(("INBOX", uid))
    setup = phantomsafe_setup(tmp_path / "work", emulator, maxconnections=3)

    result = sync(setup)
    assert result.returncode == 0, result.output
    assert_clean("the sync's output", result.output)
    assert_mailbox_synced(emulator, setup, missing=phantoms)
    recorded = {(r.key.folder, r.key.uid): r for r in records(setup)}
    assert set(recorded) == phantoms
    assert all(r.verdict.is_phantom for r in recorded.values())
    assert all(r.skipped for r in recorded.values() if r.verdict is Verdict.PLACEHOLDER)
    assert sum(r.verdict is Verdict.PLACEHOLDER for r in recorded.values()) == len(phantoms) - 1
    assert recorded[("INBOX", broken_qp)].verdict is Verdict.PLACEHOLDER
    local = b"".join(m.raw for msgs in read_maildir(setup.maildir).values() for m in msgs)
    assert b"Retrieval using the IMAP4 protocol failed" not in local
    shown = assert_report_clean(setup)
    assert len(shown) == len(phantoms)

    for folder, uid in [*sorted(phantoms)[:3], sorted(phantoms)[-1]]:
        out = tmp_path / "work" / "metadata" / f"probe-{uid}.txt"
        status, text = helper(setup, "probe", "--account", "Test", "--folder", folder, "--uid", str(uid),
                              "--output", str(out))
        assert status == 0, text
        assert_clean("probe's output", text)
        transcript = out.read_text(encoding="utf-8")
        assert_clean("a probe transcript", transcript)
        assert emulator.password not in transcript
    assert_only_inside_roots(tmp_path, setup)
