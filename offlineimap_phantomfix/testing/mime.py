"""Reading raw message bytes (CRLF line endings, the way an IMAP server stores and sends mail): the header
fields, a small MIME tree and address lists.

Deliberately small: enough to answer BODYSTRUCTURE, ENVELOPE and section fetches (``BODY[HEADER]``,
``BODY[1.TEXT]`` ...) for the messages the tests build, and to stay robust (never raise) on anything else.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "CRLF",
    "MimePart",
    "addresses",
    "header_fields",
    "header_value",
    "parse_headers",
    "parse_mime",
    "split_message",
    "to_crlf",
]

CRLF = b"\r\n"


def to_crlf(data: bytes) -> bytes:
    """Normalise any mix of LF / CRLF / CR line endings to CRLF."""
    return re.sub(rb"\r\n|\r|\n", b"\r\n", data)


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
