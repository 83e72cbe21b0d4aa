"""Hypothesis properties of the pure modules that read server or user data.

Nothing here raises on arbitrary input (responses, placeholder detection, the probe transcript, sanitize,
options); Exchange's substitute is recognised with any header fold point and each transfer encoding it uses; a
transcript never shows the password or an XOAUTH2 token, however the bytes arrive. ``PHANTOMFIX_FUZZ_EXAMPLES``
raises the number of examples per property (default 150).
"""

from __future__ import annotations

import base64
import os
import quopri
import re
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from offlineimap_phantomfix.errors import ConfigError
from offlineimap_phantomfix.options import parse_duration, parse_options
from offlineimap_phantomfix.placeholder import detect_placeholder
from offlineimap_phantomfix.responses import (
    classify_fetch,
    imaplib2_error_words,
    locate_uid,
    parse_fetch_data,
    search_has_uid,
    server_words,
    value_text,
)
from offlineimap_phantomfix.sanitize import clean_text, safe_name, unsafe_folder_name
from offlineimap_phantomfix.session import REDACTED, Transcript
from offlineimap_phantomfix.testing.messages import exchange_substitute, split_message

pytestmark = pytest.mark.fuzz

FUZZ = settings(max_examples=int(os.environ.get("PHANTOMFIX_FUZZ_EXAMPLES", "150")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
RAW_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# --- responses ------------------------------------------------------------------------------------------------

IMAP_BYTES = st.binary(max_size=200) | st.lists(
    st.sampled_from([b"1 ", b"(", b")", b"UID ", b"7 ", b"BODY[] ", b"NIL ", b'"q\\"x" ', b"{5}", b"\r\n",
                     b"FLAGS (\\Seen) ", b"BODY[HEADER.FIELDS (FROM)] ", b"RFC822.SIZE 12 ", b"FETCH ", b"]"]),
    max_size=40).map(b"".join)
DATA_ITEM = st.one_of(st.none(), IMAP_BYTES, st.text(max_size=40), st.tuples(IMAP_BYTES, st.binary(max_size=80)),
                      st.tuples(IMAP_BYTES), st.integers())
DATA = st.lists(DATA_ITEM, max_size=8)


@FUZZ
@given(typ=st.sampled_from(["OK", "NO", "BAD", "BYE", ""]) | st.text(max_size=5), data=DATA,
       uid=st.integers(0, 2**32), by_sequence=st.booleans())
def test_responses_never_raise(typ: str, data: list[object], uid: int, by_sequence: bool) -> None:
    answer = classify_fetch(typ, data, uid, by_sequence=by_sequence)
    assert not RAW_CONTROL.search(answer.server_said)
    for response in parse_fetch_data(data):
        for value in response.attributes.values():
            assert not RAW_CONTROL.search(value_text(value))
    locate_uid(data, uid)
    search_has_uid(data, uid)
    assert not RAW_CONTROL.search(server_words(typ, data))


@FUZZ
@given(depth=st.integers(1, 20000), uid=st.integers(1, 99))
@example(depth=50_000, uid=7)
def test_deeply_nested_lists_do_not_exhaust_the_stack(depth: int, uid: int) -> None:
    data = [b"1 (FLAGS " + b"(" * depth + b")" * depth + b" UID %d BODY[] {3}" % uid, b"abc"]
    data = [(data[0], data[1]), b")"]
    answer = classify_fetch("OK", data, uid)
    assert answer.content == b"abc"


@FUZZ
@given(text=st.text(max_size=300))
def test_imaplib2_error_words_never_raise(text: str) -> None:
    status, words = imaplib2_error_words(text)
    assert status in ("", "NO", "BAD")
    assert isinstance(words, str)


# --- placeholder detection ------------------------------------------------------------------------------------

@FUZZ
@given(raw=st.binary(max_size=3000) | st.text(max_size=1000).map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_placeholder_detection_never_raises(raw: bytes) -> None:
    detect_placeholder(raw)


SENDERS = st.sampled_from(["Bob Jones <bob@example.com>", "bob@example.com", "Zoë Ärger <zoe@example.de>",
                           '"Doe, Jane" <jane.doe@example.org>'])
# The server quotes the subject as it decoded it, line breaks included; a line of it that itself ends like a
# closed field value (with '"' or '>') is beyond what the notice's shape can tell apart.
SUBJECTS = st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.just("\n"), min_size=1, max_size=60).filter(
    lambda s: s.strip() and not any(line.rstrip().endswith(('"', ">")) for line in s.split("\n")[:-1]))


def _reencode(raw: bytes, encoding: str) -> bytes:
    """The same notice with its body in ``encoding`` (Exchange uses quoted-printable, base64, 7bit, 8bit)."""
    head, body = split_message(raw)
    text = quopri.decodestring(body)
    charset = re.search(rb'charset="?([\w-]+)', head)
    if encoding == "base64":
        new_body = base64.encodebytes(text).replace(b"\n", b"\r\n")
    elif encoding == "7bit":
        if not text.isascii():
            text = text.decode(charset.group(1).decode() if charset else "utf-8").encode("ascii", "replace")
        new_body = text
    else:
        new_body = text
    head = re.sub(rb"Content-Transfer-Encoding: [\w-]+", b"Content-Transfer-Encoding: " + encoding.encode(), head)
    return head + b"\r\n\r\n" + new_body


def _fold(raw: bytes, position: int, fold: bytes) -> bytes:
    """Fold the Subject or the From header at one of its spaces (chosen by ``position``)."""
    head, body = split_message(raw)
    lines = head.split(b"\r\n")
    candidates = [(i, j) for i, line in enumerate(lines) if line.startswith((b"Subject:", b"From:"))
                  for j in range(line.index(b":") + 2, len(line)) if line[j:j + 1] == b" "]
    if not candidates:
        return raw
    i, j = candidates[position % len(candidates)]
    lines[i] = lines[i][:j] + fold + lines[i][j + 1:]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


@FUZZ
@given(uid=st.integers(1, 2**32 - 1), subject=SUBJECTS, sender=SENDERS, position=st.integers(0, 10_000),
       fold=st.sampled_from([b"\r\n ", b"\r\n\t", b"\r\n  "]),
       encoding=st.sampled_from(["quoted-printable", "base64", "7bit", "8bit"]), lf_only=st.booleans())
def test_a_substitute_is_recognised_with_any_fold_and_encoding(uid: int, subject: str, sender: str, position: int,
                                                               fold: bytes, encoding: str, lf_only: bool) -> None:
    raw = exchange_substitute(uid, subject=subject, sender=sender, sent="Monday, March 4, 2024 9:15 AM")
    raw = _fold(_reencode(raw, encoding), position, fold)
    if lf_only:
        raw = raw.replace(b"\r\n", b"\n")
    info = detect_placeholder(raw)
    assert info is not None, raw[:600]
    assert info.uid == uid


# --- the probe transcript -------------------------------------------------------------------------------------

PASSWORDS = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF, blacklist_categories=("Cs",)),
                    min_size=8, max_size=30).filter(lambda p: p not in REDACTED)


def _login_line(user: str, password: str) -> list[bytes]:
    """LOGIN as imaplib2 sends it: an atom, a quoted string, or a literal for 8-bit text."""
    if not password.isascii():
        data = password.encode()
        return [f"T1 LOGIN {user} {{{len(data)}}}\r\n".encode(), data + b"\r\n"]
    if re.fullmatch(r"[A-Za-z0-9._-]+", password):
        return [f"T1 LOGIN {user} {password}\r\n".encode()]
    quoted = password.replace("\\", "\\\\").replace('"', '\\"')
    return [f'T1 LOGIN {user} "{quoted}"\r\n'.encode()]


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, start = [], 0
    for point in [*points, len(data)]:
        pieces.append(data[start:point])
        start = point
    return [p for p in pieces if p]


@FUZZ
@given(password=PASSWORDS, token=st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/",
                                         min_size=20, max_size=80),
       cuts=st.lists(st.integers(0, 10_000), max_size=12), sasl_ir=st.booleans(), register=st.booleans())
def test_a_transcript_never_shows_the_password_or_an_xoauth2_token(password: str, token: str, cuts: list[int],
                                                                   sasl_ir: bool, register: bool) -> None:
    user = "joe@example.org"
    blob = base64.b64encode(f"user={user}\x01auth=Bearer {token}\x01\x01".encode())
    client = b"".join(_login_line(user, password))
    client += b"T2 AUTHENTICATE XOAUTH2" + (b" " if sasl_ir else b"\r\n") + blob + b"\r\n"
    client += b"T3 SELECT INBOX\r\n"
    server = (b"* OK ready\r\n" + (b"+ go ahead\r\n" if not password.isascii() else b"")
              + b"T1 NO [AUTHENTICATIONFAILED] Invalid credentials\r\n" + (b"" if sasl_ir else b"+ \r\n")
              + b"T2 OK AUTHENTICATE completed\r\nT3 OK [READ-WRITE] SELECT completed\r\n")
    transcript = Transcript()
    connection = transcript.connection("to 127.0.0.1:143")
    client_pieces, server_pieces = _chunks(client, cuts), _chunks(server, cuts[::-1])
    for index in range(max(len(client_pieces), len(server_pieces))):
        if index < len(server_pieces):
            connection.server(server_pieces[index])
        if index < len(client_pieces):
            connection.client(client_pieces[index])
    if register:
        transcript.add_secret(password, user=user)
    text = transcript.render()
    escaped = password.replace("\\", "\\\\").replace('"', '\\"')
    for secret in (password, escaped, token, blob.decode()):
        assert secret not in text, (secret, text)
    assert not RAW_CONTROL.search(text)


# --- sanitize -------------------------------------------------------------------------------------------------

@FUZZ
@given(value=st.text(max_size=300) | st.binary(max_size=300), keep_newlines=st.booleans(),
       limit=st.integers(0, 120))
def test_clean_text_leaves_no_control_character(value: str | bytes, keep_newlines: bool, limit: int) -> None:
    text = clean_text(value, keep_newlines=keep_newlines, limit=limit)
    allowed_newline = "" if keep_newlines else "\n"
    assert not RAW_CONTROL.search(text.replace("\n", "") if keep_newlines else text)
    assert "\x1b" not in text and "\r" not in text and (not allowed_newline or "\n" not in text)
    if limit > 0:
        assert len(text) <= limit


@FUZZ
@given(value=st.text(max_size=300), limit=st.integers(1, 255))
def test_safe_name_is_always_a_plain_file_name(value: str, limit: int) -> None:
    name = safe_name(value, limit=limit)
    assert re.fullmatch(r"[A-Za-z0-9._-]+", name)
    assert name not in (".", "..") and len(name) <= max(limit, 1)


@FUZZ
@given(name=st.text(max_size=300) | st.sampled_from(["..", "a/../b", "./x", "a//b", "/abs", "ok/name", "x" * 241]),
       separator=st.sampled_from(["/", ".", None]))
def test_a_folder_name_accepted_is_a_safe_file_name(name: str, separator: str | None) -> None:
    if unsafe_folder_name(name, separator) is not None:
        return
    assert not RAW_CONTROL.search(name) and "\t" not in name and "\n" not in name
    assert len(name.encode("utf-8", "surrogateescape")) <= 240
    for part in (name.split(separator) if separator else [name]):
        assert part not in ("", ".", "..")
    for part in name.split("/"):  # as a local path, whatever the local separator
        assert part != ".."


# --- options --------------------------------------------------------------------------------------------------

OPTION_KEYS = st.sampled_from(["phantom_action", "phantom_retry_after", "phantom_dir", "Phantom_Action",
                               "phantom_x", "remotehost"]) | st.text(max_size=20)


@FUZZ
@given(values=st.dictionaries(OPTION_KEYS, st.text(max_size=40) | st.from_regex(r"\s*\d{1,40}\s*[smhdwx]?\s*"),
                              max_size=5))
@example(values={"phantom_dir": "~nosuchuser0/state"})
@example(values={"phantom_retry_after": "99999999999999999999d"})
def test_options_are_parsed_or_refused_with_a_config_error(values: dict[str, str]) -> None:
    try:
        options = parse_options(values, section="Repository Work")
    except ConfigError as error:
        assert "\n" not in str(error)
        return
    assert options.retry_after is None or options.retry_after > timedelta(0)


@FUZZ
@given(text=st.from_regex(r"\s*\d{1,60}\s*[smhdwSMHDW]\s*") | st.text(max_size=30))
@example(text="99999999999999999999w")
def test_any_duration_text_is_a_duration_or_a_config_error(text: str) -> None:
    try:
        parse_duration(text)
    except ConfigError:
        pass
