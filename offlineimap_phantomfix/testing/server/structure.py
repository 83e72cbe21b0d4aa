"""FETCH data items and the message structure they return: sections, ENVELOPE and BODYSTRUCTURE."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..mime import MimePart, addresses, header_fields, parse_mime, split_message
from .wire import Atom, ProtocolError, Token, quote, text_of, tokenize

_SECTION_ITEM = re.compile(
    r"^(BODY|BODY\.PEEK|BINARY|BINARY\.PEEK)\[(.*)\](?:<(\d+)(?:\.(\d+))?>)?$", re.DOTALL | re.IGNORECASE
)
_SECTION_SPEC = re.compile(
    r"^((?:\d+\.)*\d+)?\.?(HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME)?\s*(?:\((.*)\))?$",
    re.DOTALL | re.IGNORECASE,
)
_SIMPLE_ITEMS = {
    "UID",
    "FLAGS",
    "INTERNALDATE",
    "RFC822.SIZE",
    "ENVELOPE",
    "BODYSTRUCTURE",
    "BODY",
    "RFC822",
    "RFC822.HEADER",
    "RFC822.TEXT",
}
_MACROS = {
    "ALL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"],
    "FAST": ["FLAGS", "INTERNALDATE", "RFC822.SIZE"],
    "FULL": ["FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"],
}


@dataclass
class FetchItem:
    """One FETCH data item. ``attr`` is UID, FLAGS, ..., or ``BODY[`` / ``BINARY[`` for section fetches."""

    attr: str
    section_text: str = ""
    part: tuple[int, ...] = ()
    spec: str = ""  # "", HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT, MIME
    fields: tuple[str, ...] = ()
    peek: bool = False
    partial: tuple[int, int | None] | None = None

    @property
    def content(self) -> bool:
        return self.attr in ("BODY[", "BINARY[", "RFC822", "RFC822.HEADER", "RFC822.TEXT")

    @property
    def header_only(self) -> bool:
        if self.attr == "RFC822.HEADER":
            return True
        return (self.attr in ("BODY[", "BINARY[") and self.spec.startswith("HEADER")) or self.spec == "MIME"

    @property
    def sets_seen(self) -> bool:
        return self.content and not self.peek and self.attr != "RFC822.HEADER"

    @property
    def peek_body(self) -> bool:
        """A PEEK fetch of content that is not just a header (what ``placeholder`` answers with nothing)."""
        return self.attr in ("BODY[", "BINARY[") and self.peek and not self.header_only

    def response_name(self) -> str:
        if self.attr in ("BODY[", "BINARY["):
            name = f"{self.attr[:-1]}[{self.section_text}]"
            if self.partial is not None:
                name += f"<{self.partial[0]}>"
            return name
        return self.attr


def parse_fetch_items(token: Token) -> list[FetchItem]:
    raw_items: list[Token] = token if isinstance(token, list) else [token]
    if isinstance(token, Atom) and token.upper() in _MACROS:
        raw_items = [Atom(a) for a in _MACROS[token.upper()]]
    items: list[FetchItem] = []
    for raw in raw_items:
        if not isinstance(raw, Atom):
            raise ProtocolError("bad fetch item")
        word = str(raw)
        upper = word.upper()
        if upper in _SIMPLE_ITEMS:
            items.append(FetchItem(attr=upper))
            continue
        match = _SECTION_ITEM.match(word)
        if not match:
            raise ProtocolError(f"unknown fetch item {word!r}")
        kind, section, origin, count = match.groups()
        spec_match = _SECTION_SPEC.match(section.strip())
        if not spec_match:
            raise ProtocolError(f"bad section {section!r}")
        part_text, spec, field_text = spec_match.groups()
        spec = (spec or "").upper()
        if field_text is not None and not spec.startswith("HEADER.FIELDS"):
            raise ProtocolError(f"bad section {section!r}")
        fields: tuple[str, ...] = ()
        if spec.startswith("HEADER.FIELDS"):
            if field_text is None:
                raise ProtocolError("HEADER.FIELDS needs a field list")
            fields = tuple(text_of(t) for t in tokenize(field_text.encode("utf-8", "surrogateescape")))
        part = tuple(int(p) for p in part_text.split(".")) if part_text else ()
        if part and spec == "" and section.strip().upper().endswith(("HEADER", "TEXT", "MIME")):
            raise ProtocolError(f"bad section {section!r}")
        partial = None
        if origin is not None:
            partial = (int(origin), int(count) if count is not None else None)
        section_text = ".".join([*(str(p) for p in part), *([spec] if spec else [])])
        if spec.startswith("HEADER.FIELDS"):
            section_text += " (" + " ".join(fields) + ")"
        items.append(
            FetchItem(
                attr=kind.upper().split(".")[0] + "[",
                section_text=section_text,
                part=part,
                spec=spec,
                fields=fields,
                peek=kind.upper().endswith(".PEEK"),
                partial=partial,
            )
        )
    if not items:
        raise ProtocolError("empty fetch item list")
    return items


# --- structure of a message ------------------------------------------------------------------------------


def _lines(data: bytes) -> int:
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def _params(params: dict[str, str]) -> bytes:
    if not params:
        return b"NIL"
    return b"(" + b" ".join(quote(k) + b" " + quote(v) for k, v in params.items()) + b")"


def envelope(part: MimePart) -> bytes:
    def addr_list(name: str, fallback: str | None = None) -> bytes:
        value = part.value(name)
        if value is None and fallback is not None:
            value = part.value(fallback)
        pairs = addresses(value)
        if not pairs:
            return b"NIL"
        out = []
        for display, address in pairs:
            mailbox, _, host = address.partition("@")
            out.append(
                b"("
                + quote(display or None)
                + b" NIL "
                + quote(mailbox or None)
                + b" "
                + quote(host or None)
                + b")"
            )
        return b"(" + b"".join(out) + b")"

    fields = [
        quote(part.value("date")),
        quote(part.value("subject")),
        addr_list("from"),
        addr_list("sender", "from"),
        addr_list("reply-to", "from"),
        addr_list("to"),
        addr_list("cc"),
        addr_list("bcc"),
        quote(part.value("in-reply-to")),
        quote(part.value("message-id")),
    ]
    return b"(" + b" ".join(fields) + b")"


def bodystructure(part: MimePart, *, extended: bool) -> bytes:
    if part.maintype == "multipart" and part.children:
        children = b"".join(bodystructure(child, extended=extended) for child in part.children)
        out = children + b" " + quote(part.subtype)
        if extended:
            out += b" " + _params(part.params) + b" " + _disposition(part) + b" NIL NIL"
        return b"(" + out + b")"
    encoding = (part.value("content-transfer-encoding") or "7bit").strip()
    fields = [
        quote(part.maintype),
        quote(part.subtype),
        _params(part.params),
        quote(part.value("content-id")),
        quote(part.value("content-description")),
        quote(encoding),
        str(len(part.body)).encode(),
    ]
    if part.maintype == "message" and part.subtype == "rfc822" and part.encapsulated is not None:
        fields += [
            envelope(part.encapsulated),
            bodystructure(part.encapsulated, extended=extended),
            str(_lines(part.body)).encode(),
        ]
    elif part.maintype == "text":
        fields.append(str(_lines(part.body)).encode())
    if extended:
        fields += [b"NIL", _disposition(part), b"NIL", b"NIL"]
    return b"(" + b" ".join(fields) + b")"


def _disposition(part: MimePart) -> bytes:
    value = part.value("content-disposition")
    if not value:
        return b"NIL"
    kind, _, rest = value.partition(";")
    params: dict[str, str] = {}
    for match in re.finditer(r'([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)', rest):
        val = match.group(2)
        if val.startswith('"') and val.endswith('"') and len(val) >= 2:
            val = val[1:-1]
        params[match.group(1).lower()] = val
    return b"(" + quote(kind.strip().lower()) + b" " + _params(params) + b")"


def _find_part(root: MimePart, path: tuple[int, ...]) -> MimePart | None:
    """Section part numbers (RFC 3501 6.4.5). Part 1 of a non-multipart message is its body."""
    node = root
    for number in path:
        container = node.encapsulated if node is not root and node.encapsulated is not None else node
        if container.maintype == "multipart" and container.children:
            if not 1 <= number <= len(container.children):
                return None
            node = container.children[number - 1]
        elif number == 1:
            node = container
        else:
            return None
    return node


def section_data(raw: bytes, item: FetchItem) -> bytes:
    """The bytes a BODY[...] / RFC822* item returns for message ``raw`` (before any partial)."""
    if item.attr == "RFC822":
        return raw
    if item.attr == "RFC822.HEADER":
        return split_message(raw)[0]
    if item.attr == "RFC822.TEXT":
        return split_message(raw)[1]
    root = parse_mime(raw)
    if not item.part:
        target: MimePart | None = root
        message: MimePart | None = root
    else:
        target = _find_part(root, item.part)
        message = target.encapsulated if target is not None else None
    if target is None:
        return b""
    if item.spec == "":
        if not item.part:
            return raw
        return target.body if target is not root else split_message(raw)[1]
    if item.spec == "MIME":
        return target.header if item.part else b""
    if message is None:
        return b""
    if item.spec == "HEADER":
        return message.header
    if item.spec == "TEXT":
        return message.body
    return header_fields(message.header, item.fields, exclude=item.spec == "HEADER.FIELDS.NOT")
