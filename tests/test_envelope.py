"""envelope.py: the lost mail's subject, sender and date, read from a parsed FETCH ENVELOPE."""

from __future__ import annotations

import pytest

from offlineimap_phantomfix.envelope import envelope_original
from offlineimap_phantomfix.responses import FetchValue, parse_fetch_data
from offlineimap_phantomfix.verdicts import Original

UID = 7


def parsed(envelope: bytes, literal: bytes | None = None) -> FetchValue:
    """The ENVELOPE as imaplib2 hands it over; with ``literal``, ``envelope`` ends in its ``{n}``."""
    head = b"3 (UID %d ENVELOPE %s" % (UID, envelope)
    data: list[object] = [head + b")"] if literal is None else [(head, literal), b" NIL NIL NIL NIL NIL NIL NIL NIL))"]
    (response,) = parse_fetch_data(data)
    return response.attributes["ENVELOPE"]


@pytest.mark.parametrize(
    ("envelope", "original"),
    [
        (b'("Wed, 20 Jan 2016 15:41:07 +0100" "Quarterly figures" (("Alice Example" NIL "alice" "example.org")) '
         b'NIL NIL NIL NIL NIL NIL NIL)',
         Original("Quarterly figures", "Alice Example <alice@example.org>", "Wed, 20 Jan 2016 15:41:07 +0100")),
        (b'(NIL "=?UTF-8?B?w4RwZmVs?= und =?iso-8859-1?q?Birnen?=" ((NIL NIL "bob" "example.org")) '
         b'NIL NIL NIL NIL NIL NIL NIL)', Original("\u00c4pfel und Birnen", "bob@example.org", None)),
        # a group (RFC 3501: host NIL starts and ends it) is passed over for its first member
        (b'(NIL NIL (("undisclosed" NIL "team" NIL)(NIL NIL "carol" "example.org")(NIL NIL NIL NIL)) '
         b'NIL NIL NIL NIL NIL NIL NIL)', Original(None, "carol@example.org", None)),
        (b'(NIL "=?utf-8?q?broken" NIL NIL NIL NIL NIL NIL NIL NIL)', Original("=?utf-8?q?broken", None, None)),
        (b'(NIL "\x1b]0;pwned\x07Hello" NIL NIL NIL NIL NIL NIL NIL NIL)', Original("Hello", None, None)),
    ],
)
def test_what_the_envelope_names(envelope: bytes, original: Original) -> None:
    assert envelope_original(parsed(envelope), UID) == original


def test_a_subject_sent_as_a_literal_is_unfolded() -> None:
    assert envelope_original(parsed(b"(NIL {12}", b"multi\r\n line"), UID) == Original("multi line", None, None)


@pytest.mark.parametrize(
    "envelope",
    [
        b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
        b'("" "" NIL NIL NIL NIL NIL NIL NIL NIL)',
        b"NIL",
        b'"not a list"',
        b"(NIL)",
        # Exchange's substitute notice for this UID describes itself, not the lost mail
        b'(NIL "Retrieval using the IMAP4 protocol failed for the following message: 7" '
        b'(("Microsoft Exchange Server 2010" NIL "postmaster" "example.org")) NIL NIL NIL NIL NIL NIL NIL)',
    ],
)
def test_an_envelope_that_names_nothing_of_the_lost_mail(envelope: bytes) -> None:
    assert envelope_original(parsed(envelope), UID) is None
