"""The IMAP emulator, driven with the standard library's imaplib and a raw socket (no offlineimap)."""

from __future__ import annotations

import base64
import imaplib
import re
import socket
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from offlineimap_phantomfix.testing import (
    BYE_DROPPED,
    BYE_TOO_MANY_ERRORS,
    EmulatorServer,
    Fault,
    build_fault_scenario,
    build_mixed_mailbox,
    exchange_substitute,
    healthy_mailbox,
    make_message,
    make_multipart_message,
)
from offlineimap_phantomfix.testing import server as server_module


class RawClient:
    """A line-level IMAP client: send a command, get back every response line up to the tagged one."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.file = self.sock.makefile("rb")
        self.greeting = self.read_line()
        self.counter = 0

    def read_line(self) -> bytes:
        """One logical response line; literals are kept inline (``{n}\\r\\n<data>``)."""
        line = self.file.readline()
        if not line:
            raise EOFError("connection closed")
        out = line
        while (match := re.search(rb"\{(\d+)\}\r\n$", line)) is not None:
            out += self.file.read(int(match.group(1)))
            line = self.file.readline()
            out += line
        return out[:-2] if out.endswith(b"\r\n") else out

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def command(self, text: str | bytes) -> list[bytes]:
        self.counter += 1
        tag = f"t{self.counter}".encode()
        data = text.encode() if isinstance(text, str) else text
        self.send(tag + b" " + data + b"\r\n")
        lines = []
        while True:
            line = self.read_line()
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines

    def login(self) -> None:
        assert self.command("LOGIN user secret")[-1].endswith(b"OK LOGIN completed.")

    def closed(self) -> bool:
        try:
            return self.file.readline() == b""
        except OSError:
            return True

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def raw(emulator: EmulatorServer) -> Iterator[RawClient]:
    client = RawClient(emulator.port)
    yield client
    client.close()


def logged_in(emulator: EmulatorServer, folder: str = "INBOX", *, readonly: bool = False) -> RawClient:
    client = RawClient(emulator.port)
    client.login()
    client.command(f"{'EXAMINE' if readonly else 'SELECT'} {folder}")
    return client


@pytest.fixture
def imap(emulator: EmulatorServer) -> Iterator[imaplib.IMAP4]:
    client = imaplib.IMAP4("127.0.0.1", emulator.port)
    yield client
    try:
        client.logout()
    except (imaplib.IMAP4.abort, OSError):
        pass


def raw_of(emulator: EmulatorServer, folder: str, uid: int) -> bytes:
    return next(m.raw for m in emulator.messages(folder) if m.uid == uid)


# --- basics ---------------------------------------------------------------------------------------------


def test_greeting_capability_login(emulator: EmulatorServer, raw: RawClient) -> None:
    assert raw.greeting == b"* OK The Microsoft Exchange IMAP4 service is ready."
    caps = raw.command("CAPABILITY")
    assert caps[0].startswith(b"* CAPABILITY IMAP4 IMAP4rev1 ")
    for cap in (b"UIDPLUS", b"IDLE", b"NAMESPACE", b"ID", b"AUTH=PLAIN", b"LITERAL+"):
        assert cap in caps[0].split()
    assert raw.command("SELECT INBOX")[-1] == b"t2 BAD Command received in Invalid state."
    assert raw.command("LOGIN user wrong")[-1] == b"t3 NO LOGIN failed."
    assert raw.command('LOGIN "user" {6+}\r\nsecret')[-1] == b"t4 OK LOGIN completed."
    assert raw.command("NAMESPACE")[0] == b'* NAMESPACE (("" "/")) NIL NIL'
    assert raw.command("FROBNICATE")[-1] == b"t6 BAD Command Error. 12"
    assert raw.command("LOGOUT") == [
        b"* BYE Microsoft Exchange Server 2013 IMAP4 server signing off.",
        b"t7 OK LOGOUT completed.",
    ]
    assert raw.closed()


def test_no_uidplus_capability_when_switched_off() -> None:
    with EmulatorServer(uidplus=False) as server:
        client = RawClient(server.port)
        assert b"UIDPLUS" not in client.command("CAPABILITY")[0]
        client.login()
        client.command("SELECT INBOX")
        appended = client.command(b"APPEND INBOX {5+}\r\nHi\r\n\r\n")
        assert appended[-1] == b"t4 OK APPEND completed."
        assert client.command("UID EXPUNGE 1")[-1] == b"t5 BAD Command Error. 12"
        client.close()
        assert server.errors == []


def test_authenticate_plain_and_synchronising_literal(emulator: EmulatorServer, imap: imaplib.IMAP4) -> None:
    typ, _ = imap.authenticate("PLAIN", lambda _: b"\0user\0secret")
    assert typ == "OK"
    client = RawClient(emulator.port)
    client.send(b"a1 LOGIN {4}\r\n")
    assert client.read_line().startswith(b"+ ")
    client.send(b'user "sec\\"ret"\r\n')
    assert client.read_line() == b"a1 NO LOGIN failed."
    token = base64.b64encode(b"\0user\0secret")
    assert client.command(b"AUTHENTICATE PLAIN " + token)[-1].endswith(b"OK AUTHENTICATE completed.")
    client.close()


def test_select_list_status_create(emulator: EmulatorServer, imap: imaplib.IMAP4) -> None:
    healthy_mailbox(emulator, {"INBOX": 3, "Archive/2023": 2})
    emulator.set_uidvalidity("INBOX", 14)
    imap.login("user", "secret")
    typ, data = imap.select("INBOX")
    assert (typ, data) == ("OK", [b"3"])
    assert imap.untagged_responses["UIDVALIDITY"] == [b"14"]
    assert imap.untagged_responses["UIDNEXT"] == [b"4"]
    assert imap.untagged_responses["READ-WRITE"] == [b""]
    typ, listing = imap.list('""', "*")
    assert listing == [
        b'(\\HasNoChildren) "/" "INBOX"',
        b'(\\HasNoChildren) "/" "Archive/2023"',
    ]
    assert imap.list('""', '""')[1] == [b'(\\Noselect) "/" ""']
    assert imap.create("Sent")[0] == "OK"
    assert imap.create("Sent")[0] == "NO"
    assert "Sent" in emulator.folders()
    assert imap.status("Archive/2023", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)")[1] == [
        b'"Archive/2023" (MESSAGES 2 UIDNEXT 3 UIDVALIDITY 1 UNSEEN 2)'
    ]
    typ, data = imap.select("INBOX", readonly=True)
    assert imap.untagged_responses["READ-ONLY"] == [b""]


def test_fetch_healthy_messages(emulator: EmulatorServer, imap: imaplib.IMAP4) -> None:
    uids = healthy_mailbox(emulator, {"INBOX": 8})["INBOX"]
    imap.login("user", "secret")
    imap.select("INBOX", readonly=True)
    typ, data = imap.fetch("1:*", "(FLAGS UID INTERNALDATE)")
    assert typ == "OK" and len(data) == 8
    assert isinstance(data[0], bytes)
    assert re.fullmatch(rb'1 \(FLAGS \(\) UID 1 INTERNALDATE "01-Mar-2024 10:00:00 \+0000"\)', data[0])
    for uid in uids:
        typ, data = imap.uid("FETCH", str(uid), "(BODY.PEEK[])")
        assert isinstance(data[0], tuple)
        assert data[0][0] == f"{uid} (UID {uid} BODY[] {{{len(raw_of(emulator, 'INBOX', uid))}}}".encode()
        assert data[0][1] == raw_of(emulator, "INBOX", uid)
    typ, data = imap.fetch("2", "(RFC822.SIZE RFC822.HEADER BODY[TEXT]<0.5>)")
    header, _, body = raw_of(emulator, "INBOX", 2).partition(b"\r\n\r\n")
    assert isinstance(data[0], tuple)
    assert (
        data[0][0]
        == f"2 (RFC822.SIZE {len(raw_of(emulator, 'INBOX', 2))} RFC822.HEADER {{{len(header) + 4}}}".encode()
    )
    assert data[0][1] == header + b"\r\n\r\n"
    assert data[1] == (b" BODY[TEXT]<0> {5}", body[:5])
    typ, data = imap.uid("FETCH", "7:*", "(UID)")
    assert data == [b"7 (UID 7)", b"8 (UID 8)"]
    typ, data = imap.uid("FETCH", "100:*", "(UID)")  # n:* with n > max includes the last message
    assert data == [b"8 (UID 8)"]


def test_bodystructure_envelope_and_sections(emulator: EmulatorServer, raw: RawClient) -> None:
    emulator.append("INBOX", make_message(1))
    emulator.append("INBOX", make_multipart_message(2, attachment=b"x" * 10))
    raw.login()
    raw.command("EXAMINE INBOX")
    plain = raw.command("FETCH 1 (BODYSTRUCTURE)")[0]
    assert re.fullmatch(
        rb'\* 1 FETCH \(BODYSTRUCTURE \("text" "plain" \("charset" "us-ascii"\) NIL NIL "7bit" \d+ \d+'
        rb" NIL NIL NIL NIL\)\)",
        plain,
    )
    multi = raw.command("FETCH 2 (BODY ENVELOPE)")[0]
    assert (
        b'"mixed")' in multi
        and b'("application" "octet-stream" ("name" "file2.bin") NIL NIL "base64" 16)' in multi
    )
    assert (
        b'ENVELOPE ("Fri, 01 Mar 2024 11:00:00 +0000" "Test message 2 with attachment"'
        b' (("Alice Example" NIL "alice" "example.org"))' in multi
    )
    part = raw.command(
        "FETCH 2 (BODY.PEEK[2] BODY.PEEK[2.MIME]"
        " BODY.PEEK[HEADER.FIELDS.NOT (From To Date Message-ID MIME-Version Content-Type)])"
    )[0]
    assert b"BODY[2] {16}\r\neHh4eHh4eHh4eA== " in part
    assert b"BODY[2.MIME] {" in part and b"Content-Disposition: attachment" in part
    assert b"Subject: Test message 2 with attachment\r\n\r\n" in part
    assert raw.command("FETCH 2 (BODY.PEEK[HEADER.FIELDS (SUBJECT)]<0.7>)")[0] == (
        b"* 2 FETCH (BODY[HEADER.FIELDS (SUBJECT)]<0> {7}\r\nSubject)"
    )
    assert raw.command("FETCH 2 (BODY[3])")[0] == b"* 2 FETCH (BODY[3] {0}\r\n)"
    assert raw.command("FETCH 1 (NONSENSE)")[-1].endswith(
        b" BAD Command Argument Error. unknown fetch item 'NONSENSE'"
    )


def test_non_peek_fetch_sets_seen_only_read_write(emulator: EmulatorServer) -> None:
    healthy_mailbox(emulator, {"INBOX": 2})
    ro = logged_in(emulator, readonly=True)
    assert b"FLAGS" not in ro.command("UID FETCH 1 (BODY[])")[0][-20:]
    assert "\\Seen" not in emulator.messages("INBOX")[0].flags
    rw = logged_in(emulator)
    assert rw.command("UID FETCH 1 (BODY[])")[0].endswith(b" FLAGS (\\Seen))")
    assert "\\Seen" in emulator.messages("INBOX")[0].flags
    rw.command("UID FETCH 2 (BODY.PEEK[])")
    assert "\\Seen" not in emulator.messages("INBOX")[1].flags
    ro.close()
    rw.close()


def test_store_and_search(emulator: EmulatorServer, imap: imaplib.IMAP4) -> None:
    emulator.append(
        "INBOX", make_message(1, subject="apple"), internaldate=datetime(2024, 1, 1, tzinfo=timezone.utc)
    )
    emulator.append("INBOX", make_message(2, subject="banana", body="x" * 3000))
    emulator.append("INBOX", make_message(3, subject="cherry"), flags=["\\Seen"])
    imap.login("user", "secret")
    imap.select("INBOX")
    assert imap.uid("STORE", "1", "+FLAGS", "(\\Deleted \\Flagged)")[1] == [
        b"1 (UID 1 FLAGS (\\Flagged \\Deleted))"
    ]
    assert imap.store("3", "-FLAGS.SILENT", "(\\Seen)") == ("OK", [None])
    assert imap.uid("STORE", "2", "FLAGS", "($Label1)")[1] == [b"2 (UID 2 FLAGS ($Label1))"]
    assert imap.uid("SEARCH", "ALL")[1] == [b"1 2 3"]
    assert imap.uid("SEARCH", "UID 2:*")[1] == [b"2 3"]
    assert imap.uid("SEARCH", "DELETED")[1] == [b"1"]
    assert imap.uid("SEARCH", "UNDELETED")[1] == [b"2 3"]
    assert imap.uid("SEARCH", "SINCE 1-Feb-2024")[1] == [b"2 3"]
    assert imap.uid("SEARCH", "HEADER", "Subject", '"banana"')[1] == [b"2"]
    assert imap.uid("SEARCH", "HEADER", "X-OfflineIMAP", '"nope"')[1] == [b""]
    assert imap.uid("SEARCH", "LARGER 2000")[1] == [b"2"]
    assert imap.uid("SEARCH", "(SMALLER 2000 UNDELETED)")[1] == [b"3"]
    assert imap.search(None, "(UID 2:3)")[1] == [b"2 3"]
    assert imap.search(None, "OR 1 KEYWORD $Label1 NOT FLAGGED")[1] == [b"2"]
    with pytest.raises(imaplib.IMAP4.error):
        imap.uid("SEARCH", "BOGUS")


def test_append_appenduid_and_uid_expunge(emulator: EmulatorServer, raw: RawClient) -> None:
    healthy_mailbox(emulator, {"INBOX": 3})
    raw.login()
    raw.command("SELECT INBOX")
    message = make_message(9)
    raw.send(b'a1 APPEND INBOX (\\Seen) " 2-Mar-2024 10:00:00 +0100" {%d}\r\n' % len(message))
    assert raw.read_line().startswith(b"+ ")
    raw.send(message + b"\r\n")
    assert raw.read_line() == b"* 4 EXISTS"
    assert raw.read_line() == b"a1 OK [APPENDUID 1 4] APPEND completed."
    stored = emulator.messages("INBOX")[-1]
    assert (stored.uid, stored.flags, stored.raw) == (4, {"\\Seen"}, message)
    assert stored.internaldate == datetime(2024, 3, 2, 9, 0, tzinfo=timezone.utc)
    # LITERAL+: no continuation request.
    assert raw.command(b"APPEND INBOX {12+}\r\nSubject: x\r\n")[-1].endswith(
        b"[APPENDUID 1 5] APPEND completed."
    )
    raw.command("UID STORE 1,2 +FLAGS.SILENT (\\Deleted)")
    assert raw.command("UID EXPUNGE 2") == [b"* 2 EXPUNGE", b"t5 OK EXPUNGE completed."]
    assert [m.uid for m in emulator.messages("INBOX")] == [1, 3, 4, 5]
    assert raw.command("EXPUNGE") == [b"* 1 EXPUNGE", b"t6 OK EXPUNGE completed."]
    assert raw.command("APPEND Nowhere {1+}\r\nx")[-1] == b"t7 NO [TRYCREATE] Mailbox does not exist."


def test_other_connections_see_expunges_and_new_mail(emulator: EmulatorServer) -> None:
    healthy_mailbox(emulator, {"INBOX": 3})
    first = logged_in(emulator)
    emulator.expunge_uid("INBOX", 2)
    emulator.append("INBOX", make_message(4))
    assert first.command("NOOP") == [b"* 2 EXPUNGE", b"* 3 EXISTS", b"t3 OK NOOP completed."]
    assert first.command("FETCH 1:* (UID)")[:-1] == [
        b"* 1 FETCH (UID 1)",
        b"* 2 FETCH (UID 3)",
        b"* 3 FETCH (UID 4)",
    ]
    first.close()


def test_idle(emulator: EmulatorServer, raw: RawClient) -> None:
    raw.login()
    raw.command("SELECT INBOX")
    raw.send(b"i1 IDLE\r\n")
    assert raw.read_line().startswith(b"+ ")
    raw.send(b"DONE\r\n")
    assert raw.read_line() == b"i1 OK IDLE completed."


def test_uidvalidity_change_and_uid_reuse(emulator: EmulatorServer, raw: RawClient) -> None:
    uid = emulator.append("INBOX", make_message(1))
    emulator.expunge_uid("INBOX", uid)
    emulator.set_uidvalidity("INBOX", 99)
    emulator.set_next_uid("INBOX", uid)
    assert emulator.append("INBOX", make_message(2)) == uid
    raw.login()
    lines = raw.command("SELECT INBOX")
    assert b"* OK [UIDVALIDITY 99] UIDVALIDITY value" in lines
    assert b"* OK [UIDNEXT 2] The next unique identifier value" in lines
    assert emulator.uidvalidity("INBOX") == 99


# --- faults --------------------------------------------------------------------------------------------


def test_empty(emulator: EmulatorServer) -> None:
    scenario = build_fault_scenario(emulator, Fault.EMPTY, healthy=4, second_folder=None)
    uid = scenario.phantom_uid
    assert uid == 3
    client = logged_in(emulator)
    assert client.command(f"UID FETCH {uid} (BODY.PEEK[])") == [b"t3 OK FETCH completed."]
    assert client.command("FETCH 3 (BODY.PEEK[])") == [b"t4 OK FETCH completed."]
    assert client.command(
        "fetch 3 (uid rfc822.size flags"
        " body.peek[header.fields (date to cc from subject x-priority content-type)])"
    ) == [b"t5 OK FETCH completed."]
    assert client.command(f"UID FETCH {uid} (UID FLAGS)") == [
        f"* 3 FETCH (UID {uid} FLAGS ())".encode(),
        b"t6 OK FETCH completed.",
    ]
    assert client.command("FETCH 3 (BODY)")[0].startswith(b'* 3 FETCH (BODY ("text" "plain"')
    lines = client.command("UID FETCH 1:* (UID BODY.PEEK[])")
    assert [re.match(rb"\* (\d+) FETCH \(UID (\d+)", line).groups() for line in lines[:-1]] == [  # type: ignore[union-attr]
        (b"1", b"1"),
        (b"2", b"2"),
        (b"4", b"4"),
        (b"5", b"5"),
    ]
    assert emulator.content_fetches("INBOX", uid) == 4
    client.close()


def test_placeholder(emulator: EmulatorServer) -> None:
    uid = emulator.append(
        "INBOX", make_message(1, subject="Quarterly report", sender="Bob <bob@example.com>")
    )
    emulator.set_next_uid("INBOX", 15541)
    uid = emulator.append(
        "INBOX",
        make_message(2, subject="Lost one", sender="Carol <carol@example.com>"),
        fault=Fault.PLACEHOLDER,
    )
    substitute = next(m.substitute for m in emulator.messages("INBOX") if m.uid == uid)
    assert substitute is not None
    client = logged_in(emulator)
    assert client.command(f"UID FETCH {uid} (BODY.PEEK[])") == [b"t3 OK FETCH completed."]
    body = client.command(f"UID FETCH {uid} (BODY[])")[0]
    assert body.startswith(b"* 2 FETCH (UID 15541 BODY[] {%d}\r\n" % len(substitute))
    assert (
        b"Subject: Retrieval using the IMAP4 protocol failed for the following message:\r\n 15541\r\n" in body
    )
    assert (
        b'Subject: "Lost one"\r\nFrom: "Carol" <carol@example.com>\r\nSent date: 3/1/2024 11:00:00 AM' in body
    )
    assert b"Content-Transfer-Encoding: quoted-printable" in body
    assert b"either =\r\nOutlook" in body  # soft line break
    fields = client.command("fetch 2 (body.peek[header.fields (from subject)])")[0]
    header = (
        b"From: Microsoft Exchange Server 2010\r\n"
        b"Subject: Retrieval using the IMAP4 protocol failed for the following message:\r\n 15541\r\n\r\n"
    )
    assert fields == b"* 2 FETCH (BODY[HEADER.FIELDS (from subject)] {%d}\r\n%s)" % (len(header), header)
    meta = client.command("FETCH 2 (RFC822.SIZE BODYSTRUCTURE)")[0]
    assert meta.startswith(
        b'* 2 FETCH (RFC822.SIZE %d BODYSTRUCTURE ("text" "plain" ("charset" "us-ascii") NIL NIL'
        b' "quoted-printable"' % len(substitute)
    )
    assert client.command("FETCH 2 (RFC822.HEADER)")[0].startswith(b"* 2 FETCH (RFC822.HEADER {")
    assert emulator.content_fetches("INBOX", uid) == 4
    client.close()


def test_placeholder_peek(emulator: EmulatorServer) -> None:
    uid = emulator.append("INBOX", make_message(1), fault=Fault.PLACEHOLDER_PEEK)
    client = logged_in(emulator, readonly=True)
    lines = client.command(f"UID FETCH {uid} (BODY.PEEK[])")
    assert len(lines) == 2 and b"From: Microsoft Exchange Server 2010\r\n" in lines[0]
    assert b"for the following message:\r\n 1\r\n" in lines[0]
    client.close()


def test_refused_no_and_bad(emulator: EmulatorServer) -> None:
    healthy_mailbox(emulator, {"INBOX": 2})
    emulator.set_fault("INBOX", 1, Fault.REFUSED_NO)
    emulator.set_fault("INBOX", 2, Fault.REFUSED_BAD)
    client = logged_in(emulator)
    assert client.command("UID FETCH 1 (BODY.PEEK[])") == [
        b"t3 NO The requested message could not be converted to an RFC-822 compatible format."
    ]
    assert client.command("UID FETCH 2 (BODY.PEEK[])") == [b"t4 BAD Command Argument Error. 11"]
    assert client.command("FETCH 1:2 (UID FLAGS)")[-1] == b"t5 OK FETCH completed."
    assert client.command("FETCH 1:2 (UID BODY.PEEK[])") == [
        b"t6 NO The requested message could not be converted to an RFC-822 compatible format."
    ]
    client.close()


def test_ten_errors_then_bye(emulator: EmulatorServer) -> None:
    uid = emulator.append("INBOX", make_message(1), fault=Fault.REFUSED_BAD)
    client = logged_in(emulator)
    for i in range(9):
        assert client.command(f"UID FETCH {uid} (BODY.PEEK[])") == [
            f"t{3 + i} BAD Command Argument Error. 11".encode()
        ]
    client.send(b"t99 UID FETCH 1 (BODY.PEEK[])\r\n")
    assert client.read_line() == b"t99 BAD Command Argument Error. 11"
    assert client.read_line() == BYE_TOO_MANY_ERRORS.encode() == b"* BYE Connection is closed. 13"
    assert client.closed()
    client.close()
    # A fresh connection starts counting again.
    again = logged_in(emulator)
    assert again.command("UID FETCH 1 (BODY.PEEK[])")[-1] == b"t3 BAD Command Argument Error. 11"
    again.close()


def test_dropped(emulator: EmulatorServer) -> None:
    healthy_mailbox(emulator, {"INBOX": 2})
    emulator.set_fault("INBOX", 2, Fault.DROPPED)
    client = logged_in(emulator)
    client.send(b"d1 UID FETCH 2 (BODY.PEEK[])\r\n")
    assert client.read_line() == BYE_DROPPED.encode()
    assert (
        BYE_DROPPED
        == "* BYE FETCH failed: Internal error occurred. Refer to server log for more information."
    )
    assert client.closed()
    client.close()
    assert emulator.content_fetches("INBOX", 2) == 1
    assert [m.uid for m in emulator.messages("INBOX")] == [1, 2]  # still listed


def test_vanish(emulator: EmulatorServer) -> None:
    scenario = build_fault_scenario(emulator, Fault.VANISH, healthy=8, second_folder=None)
    uid = scenario.phantom_uid
    assert uid == 5
    client = logged_in(emulator)
    assert client.command(f"UID FETCH {uid} (BODY.PEEK[])") == [
        b"* 5 FETCH (UID 5 BODY[] NIL)",
        b"* 5 EXPUNGE",
        b"t3 OK [EXPUNGEISSUED] Some messages were already expunged",
    ]
    assert uid not in [m.uid for m in emulator.messages("INBOX")]
    assert client.command("UID SEARCH UID 5") == [b"* SEARCH", b"t4 OK SEARCH completed."]
    assert client.command("UID FETCH 5 (BODY.PEEK[])") == [b"t5 OK FETCH completed."]
    assert client.command("FETCH 5 (UID)")[0] == b"* 5 FETCH (UID 6)"
    client.close()


def test_sequence_only(emulator: EmulatorServer) -> None:
    healthy_mailbox(emulator, {"INBOX": 3})
    emulator.set_fault("INBOX", 2, Fault.SEQUENCE_ONLY)
    client = logged_in(emulator)
    assert client.command("UID FETCH 2 (BODY.PEEK[])") == [b"t3 OK FETCH completed."]
    expected = raw_of(emulator, "INBOX", 2)
    lines = client.command("FETCH 2 (UID BODY.PEEK[])")
    assert lines[0] == b"* 2 FETCH (UID 2 BODY[] {%d}\r\n" % len(expected) + expected + b")"
    assert emulator.content_fetches("INBOX", 2) == 2
    client.close()


def test_sequence_wrong(emulator: EmulatorServer) -> None:
    healthy_mailbox(emulator, {"INBOX": 3})
    emulator.set_fault("INBOX", 2, Fault.SEQUENCE_WRONG)
    client = logged_in(emulator)
    assert client.command("UID FETCH 2 (BODY.PEEK[])") == [b"t3 OK FETCH completed."]
    following = raw_of(emulator, "INBOX", 3)
    lines = client.command("FETCH 2 (UID BODY.PEEK[])")
    assert lines[0] == b"* 2 FETCH (UID 3 BODY[] {%d}\r\n" % len(following) + following + b")"
    client.close()


def test_metadata_of_every_fault_is_served(emulator: EmulatorServer) -> None:
    faults = build_mixed_mailbox(emulator, total=30, phantoms=9, seed=3)
    assert sorted(faults.values()) == sorted(set(Fault) - {Fault.VANISH_LISTED})
    assert faults == build_mixed_mailbox(EmulatorServer(), total=30, phantoms=9, seed=3)
    client = logged_in(emulator)
    lines = client.command("FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODYSTRUCTURE ENVELOPE)")
    assert len(lines) == 31 and lines[-1] == b"t3 OK FETCH completed."
    assert not any(e.content for e in emulator.log)
    client.close()


# --- log, errors, messages ------------------------------------------------------------------------------


def test_log_and_content_fetches(emulator: EmulatorServer) -> None:
    healthy_mailbox(emulator, {"INBOX": 3})
    client = logged_in(emulator)
    client.command("UID FETCH 2 (BODY.PEEK[])")
    client.command("FETCH 2 (UID BODY.PEEK[HEADER])")
    client.command("FETCH 1:3 (RFC822)")
    client.command("UID FETCH 2 (UID FLAGS RFC822.SIZE)")
    assert emulator.content_fetches("INBOX", 2) == 3
    assert emulator.content_fetches("INBOX", 1) == 1
    assert emulator.content_fetches("Archive", 2) == 0
    fetches = emulator.commands("UID FETCH")
    assert [(e.command, e.folder, e.uids, e.content) for e in fetches] == [
        ("UID FETCH", "INBOX", (2,), True),
        ("UID FETCH", "INBOX", (2,), False),
    ]
    assert fetches[0].line == "t3 UID FETCH 2 (BODY.PEEK[])"
    assert {e.connection for e in emulator.log} == {fetches[0].connection}
    assert [e.command for e in emulator.commands()][:2] == ["LOGIN", "SELECT"]
    client.close()


def test_handler_exception_lands_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: object, ctx: object, args: object) -> None:
        raise RuntimeError("emulator bug")

    monkeypatch.setitem(server_module._Connection.HANDLERS, "NOOP", (broken, "any"))
    with EmulatorServer() as server:
        client = RawClient(server.port)
        assert client.command("NOOP") == [b"t1 BAD Internal emulator error: RuntimeError"]
        assert client.command("CAPABILITY")[-1] == b"t2 OK CAPABILITY completed."
        client.close()
        assert [str(e) for e in server.errors] == ["emulator bug"]
        with pytest.raises(RuntimeError, match="emulator bug"):
            server.raise_errors()
        server.reset()
        assert server.errors == [] and server.log == []
        server.raise_errors()


def test_client_mistakes_are_not_emulator_errors(emulator: EmulatorServer, raw: RawClient) -> None:
    raw.login()
    raw.command("SELECT INBOX")
    assert raw.command("FETCH 1:x (UID)")[-1].startswith(b"t3 BAD ")
    assert raw.command('LOGIN "unterminated')[-1].startswith(b"t4 BAD ")
    assert raw.command("FETCH 1 (BODY[HEADER.FIELDS])")[-1].startswith(b"t5 BAD ")
    assert raw.command("FETCH 5 (UID)")[-1].startswith(b"t6 BAD ")
    assert emulator.errors == []


def test_messages_are_stored_with_crlf() -> None:
    server = EmulatorServer()
    uid = server.append("INBOX", b"Subject: a\nFrom: b@example.org\n\nline\n")
    (msg,) = server.messages("INBOX")
    assert (msg.uid, msg.raw) == (uid, b"Subject: a\r\nFrom: b@example.org\r\n\r\nline\r\n")
    one, two = make_message(1), make_message(2)
    assert b"\n" not in one.replace(b"\r\n", b"")
    assert one != two and b"Message-ID: <1." in one


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({}, b"message:\r\n 42\r\n"),
        ({"fold": "\r\n\t"}, b"message:\r\n\t42\r\n"),
        (
            {"fold_after": "IMAP4"},
            b"Subject: Retrieval using the IMAP4\r\n protocol failed for the following message: 42\r\n",
        ),
        ({"server_name": "Microsoft Exchange Server 2013"}, b"From: Microsoft Exchange Server 2013\r\n"),
    ],
)
def test_exchange_substitute_forms(kwargs: dict[str, Any], needle: bytes) -> None:
    data = exchange_substitute(
        42, subject="Hi", sender="Dan <dan@example.org>", sent="1/2/2016 3:04:05 PM", **kwargs
    )
    assert needle in data
    assert b'Content-Type: text/plain; charset="us-ascii"' in data


def test_exchange_substitute_non_ascii_is_encoded() -> None:
    data = exchange_substitute(7, subject="Grüße", sender="Jörg <j@example.de>", sent="1/2/2016 3:04:05 PM")
    assert b'charset="iso-8859-1"' in data
    assert b'Subject: "Gr=FC=DFe"' in data and b'From: "J=F6rg" <j@example.de>' in data
    assert all(b < 128 for b in data)
    assert all(len(line) <= 76 for line in data.split(b"\r\n\r\n", 1)[1].split(b"\r\n"))
