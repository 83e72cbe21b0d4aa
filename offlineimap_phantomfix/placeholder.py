"""Pure: recognise the substitute notice Exchange hands over instead of a message it cannot convert.

Exchange 2010/2013 and Office 365 sometimes answer a FETCH with a message they wrote themselves::

    From: Microsoft Exchange Server 2010
    Subject: Retrieval using the IMAP4 protocol failed for the following message:
     15541
    Content-Type: text/plain; charset="us-ascii"
    Content-Transfer-Encoding: quoted-printable

    The server couldn't retrieve the following message:

    Subject: "Quarterly figures"
    From: "Alice Example" <alice@example.org>
    Sent date: 1/20/2016 3:41:07 PM

    The message hasn't been deleted. You might be able to view it using either Outlook or Outlook Web App. ...

:func:`detect_placeholder` says whether some bytes are such a substitute and, if so, what it tells about the
lost mail. It runs on every fetched message, so the common case is one bounded byte search in the header
block; only when that matches (or the message has no usable Subject at all) is anything parsed.

How false positives are avoided (a wrong "yes" means a real mail is never stored, a wrong "no" only means the
notice is stored as a mail, so doubt resolves to "no"):

- Primary signal: the *whole* unfolded, decoded Subject is the Exchange phrase (IMAP4 or POP3 variant),
  optionally followed by a number. ``Fwd: Retrieval using ...``, ``Re: ...`` or any other extra text is a mail
  a person wrote (for example a notice forwarded to the helpdesk) and is not detected.
- Even with that exact Subject, the body must be the notice as the server writes it, whole and alone: its
  fixed opening ("The server couldn't retrieve the following message:"), then nothing but its three fields
  (Subject, From, Sent date), then its fixed closing sentences (when the body came whole). A question to the
  helpdesk, a reply or a ticket that quotes the notice has words of its own around it and is a mail. A body
  that did not come at all (a header block) is accepted only when the From header's *name* (never its address:
  ``someone@outlook.com`` says nothing) is a server's, or when there is no From at all.
- Secondary signal, for substitutes whose headers were lost: only when there is no Subject (or an empty
  one), the message is small, and its text *begins* with "The server couldn't retrieve the following
  message" and later says "hasn't been deleted". A mail with a Subject of its own is never detected from its
  body, however much of the notice it quotes.
"""

from __future__ import annotations

import binascii
import codecs
import email
import email.errors
import email.policy
import re
from dataclasses import dataclass

from offlineimap_phantomfix.sanitize import clean_text
from offlineimap_phantomfix.verdicts import Original

__all__ = ["PlaceholderInfo", "detect_placeholder", "substitute_for"]

# Bounds: a substitute is well under 4 KB; these keep hostile input cheap.
_HEADER_LIMIT = 128 * 1024  # bytes of header block looked at
_BODY_LIMIT = 64 * 1024  # bytes of body decoded when looking for the notice's wording
_SECONDARY_LIMIT = 64 * 1024  # a header-less message larger than this is never a substitute
_VALUE_LIMIT = 998  # characters kept of any extracted text
_MAX_UID = 2**32 - 1

# The cheap test: a word of the phrase that folding can never split (folds only happen at whitespace).
_CHEAP = re.compile(rb"retrieval", re.IGNORECASE)
# A header field line: a name of printable ASCII without space or colon, then a colon.
_FIELD = re.compile(rb"([!-9;-~]+)[ \t]*:(.*)\Z", re.DOTALL)
_LINE_SPLIT = re.compile(rb"\r\n|\n|\r")
_SUBJECT_LINE = re.compile(rb"^subject[ \t]*:[ \t]*[^\s]", re.IGNORECASE | re.MULTILINE)

_SUBJECT_PHRASE = re.compile(
    r"retrieval\s+using\s+the\s+(?:imap4?|pop3?)\s+protocol\s+failed\s+for\s+the\s+following\s+message"
    r"\s*:?\s*(?:(\d{1,20})\s*)?\Z",
    re.IGNORECASE,
)
_BODY_START = re.compile(
    r"\s*the\s+server\s+(?:couldn't|could\s+not)\s+retrieve\s+the\s+following\s+message\s*:?", re.IGNORECASE
)
_BODY_END = re.compile(r"(?:hasn't|has\s+not)\s+been\s+deleted", re.IGNORECASE)
_BODY_FIELD = re.compile(r"^[ \t]*(subject|from|sent\s+date|sent)[ \t]*:[ \t]*(.*?)[ \t]*$",
                         re.IGNORECASE | re.MULTILINE)
_TRAILER = re.compile(
    r"[ \t]*\.?(?:\s|you\s+might\s+be\s+able\s+to\s+view\s+it\s+using\s+either\s+outlook\s+or\s+outlook"
    r"\s+(?:web\s+app|web\s+access|on\s+the\s+web)\.?|you\s+can\s+also\s+try\s+contacting\s+the\s+original\s+"
    r"sender\s+to\s+find\s+out\s+what\s+the\s+message\s+was\s+about\.?|thank\s+you\.?)*"
    # a quoted-printable escape cut off at the very end ("=4"), which decoding leaves as it is
    r"(?:=[0-9a-f]?\s*)?",
    re.IGNORECASE,
)
_SERVER_SENDER = re.compile(r"microsoft|exchange|outlook|postmaster|mailer-daemon|administrator", re.IGNORECASE)
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
_CHARSET = re.compile(r"""charset\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s;]+))""", re.IGNORECASE)
# Charsets that share ASCII's byte values: try UTF-8 first (Exchange writes U+2019 as UTF-8 even when the
# part claims us-ascii), then the declared one.
_ASCII_LIKE = re.compile(r"(?:us-?ascii|ascii|utf-?8|iso-?8859-\d+|latin-?\d|(?:windows|cp)-?125\d)\Z",
                         re.IGNORECASE)


@dataclass(frozen=True)
class PlaceholderInfo:
    """What a substitute notice says."""

    uid: int | None  # the number in the Subject (it is the UID, not a sequence number)
    server_name: str | None  # the From header's text
    original: Original  # subject/sender/date of the lost mail, when the body names them


def detect_placeholder(raw: bytes) -> PlaceholderInfo | None:
    """The substitute notice's content if ``raw`` (a whole message or only its header block) is one, else None.

    Accepts CRLF or LF line endings. Never raises: garbage of any size gives None.
    """
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        return None
    data = bytes(raw)
    try:
        return _detect(data)
    except (ValueError, LookupError, UnicodeError, binascii.Error, email.errors.MessageError,
            RecursionError, MemoryError):  # pragma: no cover - defensive: the helpers below avoid these
        return None


def substitute_for(raw: bytes, uid: int) -> PlaceholderInfo | None:
    """:func:`detect_placeholder`, for what the server sent when asked for ``uid``. Exchange names the UID it
    could not convert in the notice's Subject; a notice that names another UID is a mail someone sent on (a
    forwarded notice kept as it was), not the substitute for this message."""
    info = detect_placeholder(raw)
    if info is not None and info.uid is not None and info.uid != uid:
        return None
    return info


# --- structure --------------------------------------------------------------------------------------------

@dataclass
class _Parts:
    headers: list[tuple[str, bytes]]  # (lower-case name, unfolded raw value), in order
    body: bytes
    has_header_block: bool


def _split(data: bytes) -> _Parts:
    """Header block and body; a message whose first line is not a header field is all body."""
    if data.startswith(b"From ") and b"\n" in data:  # an mbox separator line ("From " without a colon)
        data = data.split(b"\n", 1)[1]
    first_line = _LINE_SPLIT.split(data[:1024], maxsplit=1)[0]
    if not _FIELD.match(first_line):
        return _Parts([], data, False)
    end, body_start = _header_end(data)
    return _Parts(_parse_headers(data[:end]), data[body_start:], True)


def _header_end(data: bytes) -> tuple[int, int]:
    """(end of the header block, start of the body) within the first ``_HEADER_LIMIT`` bytes."""
    best: tuple[int, int] | None = None
    limit = _HEADER_LIMIT
    for separator in (b"\r\n\r\n", b"\n\n", b"\r\r"):
        index = data.find(separator, 0, limit)
        if index >= 0:
            best = (index, index + len(separator))
            limit = index + len(separator) - 1  # only an earlier separator can win
    if best is not None:
        return best
    if len(data) <= _HEADER_LIMIT:
        return len(data), len(data)  # only a header block
    return _HEADER_LIMIT, len(data)  # absurdly long header: look at its start, ignore the rest


def _parse_headers(head: bytes) -> list[tuple[str, bytes]]:
    """Unfold leniently: a line that starts with white space, *or that is not a header field at all*, continues
    the field before it. The second rule covers the real Exchange transcript where the folded UID came on a
    line of its own with its leading white space lost."""
    fields: list[tuple[str, list[bytes]]] = []
    for line in _LINE_SPLIT.split(head):
        if not line.strip():
            continue
        match = None if line[:1] in (b" ", b"\t") else _FIELD.match(line)
        if match is not None:
            fields.append((match.group(1).decode("ascii").lower(), [match.group(2)]))
        elif fields:
            fields[-1][1].append(line)
    return [(name, b" ".join(part.strip() for part in parts)) for name, parts in fields]


def _header(parts: _Parts, name: str) -> bytes | None:
    for field_name, value in parts.headers:
        if field_name == name:
            return value
    return None


# --- decoding ---------------------------------------------------------------------------------------------

def _decode_bytes(value: bytes, charset: str | None = None) -> str:
    """Bytes to text: UTF-8 first for ASCII-like (or unknown) charsets, then the declared one, then Latin-1."""
    candidates: list[str] = []
    declared = _codec(charset)
    if declared is not None and not _ASCII_LIKE.match(charset or ""):
        candidates.append(declared)
    candidates.append("utf-8")
    if declared is not None:
        candidates.append(declared)
    for candidate in candidates:
        try:
            return value.decode(candidate)
        except (UnicodeError, LookupError):
            continue
    return value.decode("latin-1")


def _codec(charset: str | None) -> str | None:
    if not charset or len(charset) > 40:
        return None
    try:
        return codecs.lookup(charset.strip()).name
    except (LookupError, ValueError):
        return None


def _decode_header_value(value: bytes) -> str:
    """An unfolded header value to text, RFC 2047 words decoded, never raising."""
    text = _decode_bytes(value)
    if "=?" not in text:
        return text
    try:
        return str(email.policy.default.header_factory("x-unstructured", text))
    except (ValueError, LookupError, UnicodeError, TypeError, IndexError, binascii.Error,
            email.errors.MessageError):
        return text


def _content_type(parts: _Parts) -> tuple[str, str | None]:
    raw = _header(parts, "content-type")
    if raw is None:
        return "text/plain", None
    text = _decode_bytes(raw)
    kind = text.split(";", 1)[0].strip().lower() or "text/plain"
    match = _CHARSET.search(text)
    charset = next((group for group in match.groups() if group), None) if match else None
    return kind, charset


def _body_text(parts: _Parts) -> str:
    """The notice's text, decoded, from the first ``_BODY_LIMIT`` bytes of the body (or of the message)."""
    body = parts.body[:_BODY_LIMIT]
    if not body.strip():
        return ""
    kind, charset = _content_type(parts)
    if kind.startswith("multipart/"):
        return _multipart_text(parts)
    cte_raw = _header(parts, "content-transfer-encoding")
    cte = _decode_bytes(cte_raw).strip().lower() if cte_raw is not None else ""
    if cte == "quoted-printable" or (not parts.has_header_block and _looks_qp(body)):
        body = binascii.a2b_qp(body)
    elif cte == "base64":
        try:
            body = binascii.a2b_base64(re.sub(rb"[^A-Za-z0-9+/=]", b"", body) + b"==")
        except binascii.Error:
            return ""
    return _decode_bytes(body, charset)


def _looks_qp(body: bytes) -> bool:
    return re.search(rb"=(?:\r?\n|[0-9A-F]{2})", body) is not None


def _multipart_text(parts: _Parts) -> str:
    """First text/plain part of a (small) multipart substitute, through the stdlib parser."""
    head = b"".join(b"%s: %s\r\n" % (name.encode("ascii"), value) for name, value in parts.headers)
    try:
        message = email.message_from_bytes(head + b"\r\n" + parts.body[:_BODY_LIMIT], policy=email.policy.compat32)
        for part in message.walk():
            if part.get_content_type() == "text/plain":
                payload = part.get_payload(decode=True)
                if isinstance(payload, bytes):
                    return _decode_bytes(payload, part.get_content_charset())
    except (ValueError, LookupError, UnicodeError, TypeError, AttributeError, binascii.Error,
            email.errors.MessageError):
        return ""
    return ""


# --- the notice's wording ---------------------------------------------------------------------------------

def _normalise(text: str) -> str:
    return text.translate(_APOSTROPHES).replace("\r\n", "\n").replace("\r", "\n")


def _whole_notice(text: str) -> str | None:
    """The notice's field region when ``text`` is the notice and nothing else: its fixed opening, then only its
    field lines (Subject, From, Sent date), then (if it came whole) its fixed closing sentences. None otherwise."""
    start = _BODY_START.match(text)
    if start is None:
        return None
    end = _BODY_END.search(text, start.end())
    region = text[start.end(): end.start() if end is not None else len(text)]
    if end is not None:
        # The closing starts with "The message hasn't been deleted"; the words before it belong to it.
        region, _, lead = region.rpartition("\n")
        if lead.strip().lower() not in ("the message", "this message", ""):
            return None
        if _TRAILER.fullmatch(text[end.end():]) is None:
            return None
    fields = _join_quoted([line for line in region.split("\n") if line.strip()])
    if len(fields) > 3 or any(_BODY_FIELD.fullmatch(line) is None for line in fields):
        return None
    return "\n".join(fields)


def _join_quoted(lines: list[str]) -> list[str]:
    """The field lines, with a quoted value that runs over several lines joined into one: the server quotes the
    subject as it decoded it, line breaks included."""
    joined: list[str] = []
    open_quote = False
    for line in lines:
        if open_quote:
            joined[-1] += " " + line.strip()
        else:
            joined.append(line)
        value = joined[-1].partition(":")[2].strip()
        open_quote = value.startswith('"') and (len(value) == 1 or not value.endswith(('"', ">")))
    return joined


def _display_name(value: str) -> str:
    """The name part of a From value, never the address: ``Bob <bob@outlook.com>`` gives ``Bob``."""
    if "<" in value:
        return value.split("<", 1)[0]
    return "" if "@" in value else value


def _original_from(region: str) -> Original:
    found: dict[str, str] = {}
    for match in _BODY_FIELD.finditer(region):
        name = " ".join(match.group(1).lower().split())
        key = {"subject": "subject", "from": "sender", "sent date": "date", "sent": "date"}[name]
        if key in found:
            continue
        value = match.group(2)
        if key == "subject" and len(value) >= 2 and value.startswith('"') and value.endswith('"'):
            value = value[1:-1]
        cleaned = clean_text(value, limit=_VALUE_LIMIT)
        if cleaned:
            found[key] = cleaned
    return Original(subject=found.get("subject"), sender=found.get("sender"), date=found.get("date"))


def _clean_or_none(value: str) -> str | None:
    cleaned = clean_text(value, limit=_VALUE_LIMIT)
    return cleaned or None


# --- decision ---------------------------------------------------------------------------------------------

def _detect(data: bytes) -> PlaceholderInfo | None:
    if not data:
        return None
    end, _ = _header_end(data)
    window = data[:end]
    if _CHEAP.search(window) is None and _SUBJECT_LINE.search(window) is not None and not _starts_like_notice(data):
        return None  # the usual case: a mail with a Subject of its own and no trace of the phrase
    parts = _split(data)
    subject_raw = _header(parts, "subject")
    from_raw = _header(parts, "from")
    server_name = _clean_or_none(_decode_header_value(from_raw)) if from_raw is not None else None
    subject = " ".join(_decode_header_value(subject_raw).split()) if subject_raw is not None else ""

    if subject:
        match = _SUBJECT_PHRASE.match(subject)
        if match is None:
            return None  # a Subject of its own: never a substitute, whatever the body quotes
        uid = int(match.group(1)) if match.group(1) else None
        if uid is not None and not 0 < uid <= _MAX_UID:
            uid = None
        text = _normalise(_body_text(parts))
        if not text.strip():
            # A header block, or a notice whose body did not come: only a server's name may sign it.
            if server_name is not None and not _SERVER_SENDER.search(_display_name(server_name)):
                return None
            return PlaceholderInfo(uid=uid, server_name=server_name, original=Original())
        region = _whole_notice(text)
        if region is None:
            return None  # a person wrote this: a question, a reply, a ticket quoting the notice
        return PlaceholderInfo(uid=uid, server_name=server_name, original=_original_from(region))

    # No Subject (or an empty one): the headers may have been lost. Look at the wording, in small messages only.
    if len(parts.body) > _SECONDARY_LIMIT:
        return None
    text = _normalise(_body_text(parts))
    region = _whole_notice(text)
    if region is None or _BODY_END.search(text) is None:
        return None
    return PlaceholderInfo(uid=None, server_name=server_name, original=_original_from(region))


def _starts_like_notice(data: bytes) -> bool:
    """Cheap: does the message (without headers) begin with the notice's first words?"""
    return data[:4096].lstrip()[:32].lower().startswith(b"the server could")
