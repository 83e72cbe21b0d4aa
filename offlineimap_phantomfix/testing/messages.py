"""Message bytes for the emulator: builders for test mail and the Exchange substitute.

Everything here works on raw ``bytes`` with CRLF line endings, the way an IMAP server stores and sends mail.
The reader for such bytes (header fields, the MIME tree) is :mod:`.mime`.
"""

from __future__ import annotations

import email.utils
import hashlib
from datetime import datetime, timedelta, timezone

from .mime import CRLF, split_message, to_crlf

__all__ = [
    "SUBSTITUTE_BODY_TEMPLATE",
    "SUBSTITUTE_SUBJECT",
    "exchange_substitute",
    "format_sent_date",
    "make_message",
    "make_multipart_message",
    "quoted_printable",
    "split_message",
]
BASE_DATE = datetime(2024, 3, 1, 9, 0, 0, tzinfo=timezone.utc)

SUBSTITUTE_SUBJECT = "Retrieval using the IMAP4 protocol failed for the following message:"
SUBSTITUTE_BODY_TEMPLATE = (
    "The server couldn't retrieve the following message:\r\n"
    "\r\n"
    'Subject: "{subject}"\r\n'
    'From: "{sender_name}" <{sender_address}>\r\n'
    "Sent date: {sent}\r\n"
    "\r\n"
    "The message hasn't been deleted. You might be able to view it using either Outlook or Outlook Web App."
    " You can also try contacting the original sender to find out what the message was about.\r\n"
    "\r\n"
    "Thank you."
)

_WORDS = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa "
    "quebec romeo sierra tango uniform victor whiskey xray yankee zulu"
).split()


def _body_text(n: int) -> str:
    lines = [f"Hello, this is test message number {n}.", ""]
    for i in range(3 + n % 5):
        words = [_WORDS[(n * 7 + i * 3 + j) % len(_WORDS)] for j in range(6 + (n + i) % 6)]
        lines.append(" ".join(words).capitalize() + ".")
    lines += ["", "-- ", "Alice"]
    return "\r\n".join(lines) + "\r\n"


def _message_id(n: int, salt: str) -> str:
    digest = hashlib.sha1(f"{n}:{salt}".encode()).hexdigest()[:12]
    return f"<{n}.{digest}@example.org>"


def make_message(
    n: int,
    *,
    subject: str | None = None,
    sender: str = "Alice Example <alice@example.org>",
    to: str = "user@example.org",
    body: str | None = None,
    date: datetime | None = None,
) -> bytes:
    """A realistic, unique (by Message-ID) plain-text RFC 5322 message with CRLF line endings.

    ``n`` makes it unique and picks the default subject, date (``BASE_DATE`` + n hours) and body text.
    Non-ASCII in ``body`` is sent as UTF-8 8bit; non-ASCII in ``subject`` is written as an RFC 2047 word.
    """
    when = date if date is not None else BASE_DATE + timedelta(hours=n)
    subj = subject if subject is not None else f"Test message {n}"
    text = to_crlf((body if body is not None else _body_text(n)).encode("utf-8"))
    if not text.endswith(CRLF):
        text += CRLF
    ascii_body = all(b < 128 for b in text)
    headers = [
        f"Return-Path: <{email.utils.parseaddr(sender)[1]}>",
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {_encode_subject(subj)}",
        f"Date: {email.utils.format_datetime(when)}",
        f"Message-ID: {_message_id(n, subj + sender)}",
        "MIME-Version: 1.0",
        f"Content-Type: text/plain; charset={'us-ascii' if ascii_body else 'utf-8'}",
        f"Content-Transfer-Encoding: {'7bit' if ascii_body else '8bit'}",
    ]
    return "\r\n".join(headers).encode("ascii") + CRLF + CRLF + text


def make_multipart_message(
    n: int,
    *,
    subject: str | None = None,
    sender: str = "Alice Example <alice@example.org>",
    to: str = "user@example.org",
    date: datetime | None = None,
    attachment: bytes = b"%PDF-1.4 not really a pdf\r\n",
) -> bytes:
    """A multipart/mixed message: a text/plain part and a base64 application/octet-stream attachment."""
    import base64

    when = date if date is not None else BASE_DATE + timedelta(hours=n)
    subj = subject if subject is not None else f"Test message {n} with attachment"
    boundary = f"=_boundary_{n:06d}"
    b64 = base64.encodebytes(attachment).replace(b"\n", b"\r\n")
    parts = [
        f"--{boundary}".encode(),
        b"Content-Type: text/plain; charset=us-ascii",
        b"Content-Transfer-Encoding: 7bit",
        b"",
        _body_text(n).encode("ascii").rstrip(b"\r\n"),
        f"--{boundary}".encode(),
        f'Content-Type: application/octet-stream; name="file{n}.bin"'.encode(),
        f'Content-Disposition: attachment; filename="file{n}.bin"'.encode(),
        b"Content-Transfer-Encoding: base64",
        b"",
        b64.rstrip(b"\r\n"),
        f"--{boundary}--".encode(),
        b"",
    ]
    headers = [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {_encode_subject(subj)}",
        f"Date: {email.utils.format_datetime(when)}",
        f"Message-ID: {_message_id(n, subj + sender + 'multipart')}",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/mixed; boundary="{boundary}"',
    ]
    return "\r\n".join(headers).encode("ascii") + CRLF + CRLF + b"This is a multi-part message.\r\n" + (
        CRLF.join(parts)
    )


def _encode_subject(subject: str) -> str:
    if subject.isascii():
        return subject
    from email.header import Header

    return Header(subject, "utf-8").encode()


# --- the Exchange substitute -------------------------------------------------------------------------------


def quoted_printable(text: bytes, *, line_length: int = 76) -> bytes:
    """Quoted-printable encode ``text`` (CRLF-separated lines), soft-breaking long lines with ``=\\r\\n``."""
    out: list[bytes] = []
    for line in text.split(CRLF):
        encoded: list[str] = []
        for i, byte in enumerate(line):
            ch = chr(byte)
            last = i == len(line) - 1
            if byte in (0x20, 0x09) and not last:
                encoded.append(ch)
            elif 33 <= byte <= 126 and ch != "=":
                encoded.append(ch)
            else:
                encoded.append(f"={byte:02X}")
        current = ""
        pieces: list[str] = []
        for token in encoded:
            if len(current) + len(token) > line_length - 1:
                pieces.append(current + "=")
                current = ""
            current += token
        pieces.append(current)
        out.append("\r\n".join(pieces).encode("ascii"))
    return CRLF.join(out)


def format_sent_date(when: datetime) -> str:
    """Exchange's "Sent date" form: ``3/1/2024 9:00:00 AM`` (month/day/year, 12-hour clock, no padding)."""
    hour = when.hour % 12 or 12
    ampm = "AM" if when.hour < 12 else "PM"
    return f"{when.month}/{when.day}/{when.year} {hour}:{when.minute:02d}:{when.second:02d} {ampm}"


def exchange_substitute(
    uid: int,
    *,
    subject: str,
    sender: str,
    sent: str,
    server_name: str = "Microsoft Exchange Server 2010",
    fold: str = "\r\n ",
    fold_after: str | None = None,
    charset: str | None = None,
    to: str = "user@example.org",
    date: datetime | None = None,
) -> bytes:
    """The notice Exchange hands out instead of a message it cannot convert.

    ``sender`` is the original From value (``Name <addr>`` or a bare address). ``fold`` is the folding
    whitespace put into the Subject; by default right before the UID, or after the text ``fold_after``
    (a mid-phrase fold, e.g. ``fold_after="IMAP4"``; the space following it is replaced by the fold).
    ``charset`` defaults to us-ascii, or iso-8859-1 / utf-8 when the original subject or sender needs it.
    """
    name, address = email.utils.parseaddr(sender)
    if not address:
        address = sender.strip()
    body_text = SUBSTITUTE_BODY_TEMPLATE.format(
        subject=subject, sender_name=name or address, sender_address=address, sent=sent
    )
    if charset is None:
        charset = "us-ascii"
        for candidate in ("us-ascii", "iso-8859-1", "utf-8"):
            try:
                body_text.encode(candidate)
            except UnicodeEncodeError:
                continue
            charset = candidate
            break
    body = quoted_printable(body_text.encode(charset, errors="replace"))

    phrase = SUBSTITUTE_SUBJECT
    if fold_after is not None and fold_after in phrase:
        head, _, tail = phrase.partition(fold_after)
        subject_value = f"{head}{fold_after}{fold}{tail.lstrip(' ')} {uid}"
    else:
        subject_value = f"{phrase}{fold}{uid}"
    when = date if date is not None else BASE_DATE
    headers = [
        f"From: {server_name}",
        f"To: {to}",
        f"Date: {email.utils.format_datetime(when)}",
        f"Subject: {subject_value}",
        "MIME-Version: 1.0",
        f'Content-Type: text/plain; charset="{charset}"',
        "Content-Transfer-Encoding: quoted-printable",
    ]
    return "\r\n".join(headers).encode("ascii") + CRLF + CRLF + body + CRLF
