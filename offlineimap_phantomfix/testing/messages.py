"""Message bytes for the emulator: builders for test mail, the Exchange substitute, and a small MIME reader.

Everything here works on raw ``bytes`` with CRLF line endings, the way an IMAP server stores and sends mail.
The MIME reader is deliberately small: enough to answer BODYSTRUCTURE, ENVELOPE and section fetches
(``BODY[HEADER]``, ``BODY[1.TEXT]`` ...) for the messages the tests build, and to stay robust (never raise)
on anything else.
"""

from __future__ import annotations

import email.utils
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

__all__ = [
    "SUBSTITUTE_BODY_TEMPLATE",
    "SUBSTITUTE_SUBJECT",
    "MimePart",
    "exchange_substitute",
    "format_sent_date",
    "header_fields",
    "header_value",
    "make_message",
    "make_multipart_message",
    "parse_headers",
    "parse_mime",
    "quoted_printable",
    "split_message",
    "to_crlf",
]

CRLF = b"\r\n"
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


def to_crlf(data: bytes) -> bytes:
    """Normalise any mix of LF / CRLF / CR line endings to CRLF."""
    return re.sub(rb"\r\n|\r|\n", b"\r\n", data)


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


# --- a small MIME reader -----------------------------------------------------------------------------------


def split_message(raw: bytes) -> tuple[bytes, bytes]:
    """Split into (header, body). The header keeps its terminating empty line, as BODY[HEADER] returns it."""
    if raw.startswith(CRLF):
        return CRLF, raw[2:]
    pos = raw.find(b"\r\n\r\n")
    if pos < 0:
        # Only a header (or garbage): everything is header.
        header = raw if raw.endswith(CRLF) else raw + CRLF
        return header + CRLF, b""
    return raw[: pos + 4], raw[pos + 4 :]


def _field_blocks(header: bytes) -> list[tuple[str, bytes]]:
    """Header fields as (lower-case name, raw bytes of the field including continuation lines and CRLF)."""
    blocks: list[tuple[str, bytes]] = []
    for line in header.split(CRLF):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and blocks:
            name, data = blocks[-1]
            blocks[-1] = (name, data + line + CRLF)
            continue
        name = line.split(b":", 1)[0].strip().decode("latin-1").lower()
        blocks.append((name, line + CRLF))
    return blocks


def parse_headers(header: bytes) -> list[tuple[str, str]]:
    """(lower-case name, unfolded value) pairs, decoded as UTF-8 with surrogate escapes."""
    result: list[tuple[str, str]] = []
    for name, data in _field_blocks(header):
        if b":" not in data:
            continue
        value = data.split(b":", 1)[1]
        value = re.sub(rb"\r\n(?=[ \t])", b"", value).strip()
        result.append((name, value.decode("utf-8", errors="surrogateescape")))
    return result


def header_value(header: bytes, name: str) -> str | None:
    """The first value of header field ``name`` (unfolded), or None."""
    wanted = name.lower()
    for key, value in parse_headers(header):
        if key == wanted:
            return value
    return None


def header_fields(header: bytes, names: Iterable[str], *, exclude: bool = False) -> bytes:
    """BODY[HEADER.FIELDS (...)] / BODY[HEADER.FIELDS.NOT (...)]: the matching raw fields + the empty line."""
    wanted = {n.lower() for n in names}
    picked = [data for name, data in _field_blocks(header) if (name in wanted) != exclude]
    return b"".join(picked) + CRLF


@dataclass
class MimePart:
    """One node of a message's MIME tree."""

    header: bytes
    body: bytes
    maintype: str = "text"
    subtype: str = "plain"
    params: dict[str, str] = field(default_factory=dict)
    children: list[MimePart] = field(default_factory=list)
    encapsulated: MimePart | None = None  # for message/rfc822

    @property
    def raw(self) -> bytes:
        return self.header + self.body

    def value(self, name: str) -> str | None:
        return header_value(self.header, name)


def _parse_content_type(value: str | None) -> tuple[str, str, dict[str, str]]:
    if not value:
        return "text", "plain", {"charset": "us-ascii"}
    main, _, rest = value.partition(";")
    maintype, _, subtype = main.strip().partition("/")
    params: dict[str, str] = {}
    for match in re.finditer(r';?\s*([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)', ";" + rest):
        key, val = match.group(1).lower(), match.group(2)
        if val.startswith('"') and val.endswith('"') and len(val) >= 2:
            val = re.sub(r"\\(.)", r"\1", val[1:-1])
        params[key] = val
    if not maintype or not subtype:
        return "text", "plain", params
    return maintype.lower(), subtype.lower(), params


def parse_mime(raw: bytes, *, default_type: tuple[str, str] = ("text", "plain"), depth: int = 0) -> MimePart:
    """Parse ``raw`` into a MimePart tree. Never raises; malformed structure degrades to a single leaf."""
    header, body = split_message(raw)
    ctype = header_value(header, "content-type")
    if ctype is None:
        maintype, subtype, params = default_type[0], default_type[1], {}
        if maintype == "text":
            params = {"charset": "us-ascii"}
    else:
        maintype, subtype, params = _parse_content_type(ctype)
    part = MimePart(header=header, body=body, maintype=maintype, subtype=subtype, params=params)
    if depth > 20:
        return part
    if maintype == "multipart" and params.get("boundary"):
        delimiter = b"--" + params["boundary"].encode("utf-8", errors="surrogateescape")
        child_default = ("message", "rfc822") if subtype == "digest" else ("text", "plain")
        for chunk in _multipart_chunks(body, delimiter):
            part.children.append(parse_mime(chunk, default_type=child_default, depth=depth + 1))
        if not part.children:
            part.maintype, part.subtype = "text", "plain"
    elif maintype == "message" and subtype == "rfc822":
        part.encapsulated = parse_mime(body, depth=depth + 1)
    return part


def _multipart_chunks(body: bytes, delimiter: bytes) -> list[bytes]:
    lines = body.split(CRLF)
    chunks: list[bytes] = []
    current: list[bytes] | None = None
    for line in lines:
        stripped = line.rstrip(b" \t")
        if stripped == delimiter + b"--":
            if current is not None:
                chunks.append(CRLF.join(current))
            return chunks
        if stripped == delimiter:
            if current is not None:
                chunks.append(CRLF.join(current))
            current = []
            continue
        if current is not None:
            current.append(line)
    if current is not None:
        chunks.append(CRLF.join(current))
    return chunks


def addresses(value: str | None) -> Sequence[tuple[str, str]]:
    """Parse an address header value into (name, address) pairs; empty for None."""
    if not value:
        return []
    return [pair for pair in email.utils.getaddresses([value]) if pair[1] or pair[0]]
