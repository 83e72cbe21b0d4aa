"""The probe transcript: bytes in, redacted and cleaned text out (no sockets, no offlineimap)."""

from __future__ import annotations

import base64

import pytest

from offlineimap_phantomfix.transcript import REDACTED, Transcript, literal_excerpt

PASSWORD = "s3cr\"et\\pw"


def _session(client_server: list[tuple[str, bytes]], *, secret: str | None = PASSWORD, user: str = "joe") -> str:
    transcript = Transcript()
    connection = transcript.connection("to 127.0.0.1:143")
    for direction, data in client_server:
        (connection.client if direction == "C" else connection.server)(data)
    transcript.add_secret(secret, user=user)
    return transcript.render()


@pytest.mark.parametrize(
    "login",
    [
        b'TAG1 LOGIN joe "s3cr\\"et\\\\pw"\r\n',  # quoted, with escapes (as imaplib2 sends it)
        b"TAG1 LOGIN joe plainatom\r\n",  # atom
        b'TAG1 LOGIN "joe" {10}\r\n',  # literal (sent after the continuation)
    ],
    ids=["quoted", "atom", "literal"],
)
def test_login_arguments_are_redacted(login: bytes) -> None:
    steps = [("S", b"* OK ready\r\n"), ("C", login)]
    if login.endswith(b"}\r\n"):
        steps += [("S", b"+ go ahead\r\n"), ("C", PASSWORD.encode() + b"\r\n")]
    steps.append(("S", b"TAG1 OK LOGIN completed.\r\n"))
    text = _session(steps, secret="plainatom" if b"plainatom" in login else PASSWORD)
    assert f"C: a001 LOGIN {REDACTED} {REDACTED}" in text
    assert "S: a001 OK LOGIN completed." in text
    for secret in (PASSWORD, "plainatom", "s3cr", "joe"):
        assert secret not in text
    assert text.count("C:") == 1  # the literal's payload is not shown as a line of its own


def test_authenticate_payloads_are_redacted() -> None:
    blob = base64.b64encode(b"\0joe\0" + PASSWORD.encode())
    text = _session([
        ("C", b"X1 AUTHENTICATE PLAIN\r\n"),
        ("S", b"+ \r\n"),
        ("C", blob + b"\r\n"),
        ("S", b"X1 NO AUTHENTICATE failed.\r\n"),
        ("C", b"X2 AUTHENTICATE PLAIN " + blob + b"\r\n"),  # SASL-IR: the initial response on the line
        ("S", b"X2 OK done\r\n"),
        ("C", b"X3 CAPABILITY\r\n"),
        ("S", b"X3 OK CAPABILITY completed.\r\n"),
    ])
    assert blob.decode() not in text
    assert "C: a001 AUTHENTICATE PLAIN\n" in text
    assert f"C: {REDACTED}" in text
    assert f"C: a002 AUTHENTICATE PLAIN {REDACTED}" in text
    assert "C: a003 CAPABILITY" in text  # redaction ends with the AUTHENTICATE command


def test_password_in_server_text_is_scrubbed_everywhere() -> None:
    transcript = Transcript()
    connection = transcript.connection()
    connection.client(b'A1 LOGIN joe "hunter22"\r\n')
    connection.server(b"A1 NO [AUTHENTICATIONFAILED] wrong password hunter22 for joe\r\n")
    transcript.note("offlineimap: LOGIN failed with hunter22")
    transcript.add_secret("hunter22", user="joe")
    text = transcript.render()
    assert "hunter22" not in text
    assert f"wrong password {REDACTED} for joe" in text
    assert "hunter22" not in transcript.last_failure()
    assert transcript.scrub("error: hunter22") == f"error: {REDACTED}"


def test_tiny_secrets_are_not_scrubbed_from_all_text() -> None:
    transcript = Transcript()
    transcript.note("a b c")
    transcript.add_secret("a")
    assert "a b c" in transcript.render()


def test_control_characters_and_escape_sequences_are_stripped() -> None:
    text = _session([
        ("C", b"T1 UID FETCH 7 (BODY.PEEK[])\r\n"),
        ("S", b"* 1 FETCH (UID 7 BODY[] {52}\r\n"),
        ("S", b"Subject: \x1b[31mred\x1b[0m \x07bell\r\nFrom: \x1b]0;title\x07x\r\n\r\nbody\r\n)\r\n"),
        ("S", b"T1 NO \x1b[2Jcleared\x00 screen\r\n"),
    ], secret=None)
    assert "\x1b" not in text and "\x07" not in text and "\x00" not in text
    assert "| Subject: red bell" in text
    assert "S: a001 NO cleared screen" in text


def test_literal_is_shown_with_size_and_header_excerpt() -> None:
    message = (b"From: Microsoft Exchange Server 2010\r\n"
               b"Subject: Retrieval using the IMAP4 protocol failed for the following message:\r\n"
               b" 15541\r\n\r\nThe server couldn't retrieve the following message:\r\n")
    response = b"* 1045 FETCH (UID 15541 BODY[] {%d}\r\n" % len(message) + message + b" FLAGS ())\r\n"
    steps = [("C", b"T7 UID FETCH 15541 (BODY[])\r\n")]
    steps += [("S", response[i : i + 7]) for i in range(0, len(response), 7)]  # any chunking
    steps.append(("S", b"T7 OK FETCH completed.\r\n"))
    text = _session(steps, secret=None)
    lines = text.splitlines()
    start = lines.index(f"S: * 1045 FETCH (UID 15541 BODY[] {{{len(message)}}}")
    assert lines[start + 1] == "S:   | From: Microsoft Exchange Server 2010"
    assert "Retrieval using the IMAP4 protocol failed" in lines[start + 2]
    assert lines[start + 3] == "S:   |   15541"  # the fold stays visible
    assert lines[start + 4].startswith(f"S:   [literal: {len(message)} bytes, first 3 of")
    assert lines[start + 5] == "S: FLAGS ())"
    assert lines[start + 6] == "S: a001 OK FETCH completed."
    assert "couldn't retrieve" not in text  # the body is not part of the excerpt


def test_literal_excerpt_limits() -> None:
    assert literal_excerpt(b"", 0) == ["[literal: 0 bytes]"]
    lines = literal_excerpt(b"".join(b"H%d: v\r\n" % i for i in range(20)), 5000)
    assert len(lines) == 9
    assert lines[-1] == "[literal: 5000 bytes, first 8 of 20+ lines shown]"
    long = literal_excerpt(b"Subject: " + b"x" * 500 + b"\r\n", 511)
    assert len(long[0]) <= 125


def test_tags_are_renumbered_in_order_and_bye_is_remembered() -> None:
    transcript = Transcript()
    first = transcript.connection()
    first.client(b"ZZ7 NOOP\r\n")
    first.server(b"ZZ7 OK NOOP completed.\r\n")
    second = transcript.connection()
    second.client(b"QQ1 UID FETCH 3 (BODY.PEEK[])\r\n")
    second.server(b"* BYE FETCH failed: Internal error occurred.\r\n")
    text = transcript.render()
    assert "C: a001 NOOP" in text and "S: a001 OK NOOP completed." in text
    assert "C: a002 UID FETCH 3 (BODY.PEEK[])" in text
    assert "# connection 2" in text
    assert transcript.byes == ["FETCH failed: Internal error occurred."]
