"""Pure: read what imaplib2 hands back for a FETCH, and say what it means for one UID.

imaplib2 returns ``(typ, data)``; for FETCH, ``data`` is ``[None]`` when the server sent no untagged FETCH,
else a list whose items are either ``bytes`` (a response without literals, or the tail after one) or
``(bytes, bytes)`` tuples (the text up to a literal, and the literal itself). Nothing here touches a socket.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Union

from offlineimap_phantomfix.sanitize import clean_text

FetchValue = Union[bytes, None, list["FetchValue"]]

_LITERAL_AT_END = re.compile(rb"\{(\d+)\+?\}\s*$")
_ATOM_END = b" ()\r\n"


@dataclass
class FetchResponse:
    """One untagged ``* <msn> FETCH (...)`` response."""

    msn: int
    attributes: dict[str, FetchValue] = field(default_factory=dict)

    @property
    def uid(self) -> int | None:
        value = self.attributes.get("UID")
        if isinstance(value, bytes) and value.isdigit():
            return int(value)
        return None

    def content(self) -> bytes | None:
        """The first message-content item (``BODY[...]``, ``RFC822...``, ``BINARY[...]``) when it is not NIL."""
        for name, value in self.attributes.items():
            if _is_content_item(name) and isinstance(value, bytes):
                return value
        return None

    def has_nil_content(self) -> bool:
        return any(_is_content_item(name) and value is None for name, value in self.attributes.items())


def _is_content_item(name: str) -> bool:
    return name.startswith(("BODY[", "BINARY[", "RFC822")) and name != "RFC822.SIZE"


class _Segments:
    """A cursor over text and literal pieces, in the order the server sent them."""

    def __init__(self, pieces: list[tuple[bool, bytes]]) -> None:
        self.pieces = pieces
        self.index = 0
        self.pos = 0

    def _skip_space(self) -> None:
        while self.index < len(self.pieces):
            is_literal, chunk = self.pieces[self.index]
            if is_literal:
                return
            while self.pos < len(chunk) and chunk[self.pos : self.pos + 1] in (b" ", b"\r", b"\n"):
                self.pos += 1
            if self.pos < len(chunk):
                return
            self.index += 1
            self.pos = 0

    def peek(self) -> bytes | None:
        self._skip_space()
        if self.index >= len(self.pieces):
            return None
        is_literal, chunk = self.pieces[self.index]
        return b"{" if is_literal else chunk[self.pos : self.pos + 1]

    def next_token(self) -> tuple[str, bytes]:
        """Return ``(kind, value)`` with kind one of ``( ) atom string literal end``."""
        self._skip_space()
        if self.index >= len(self.pieces):
            return "end", b""
        is_literal, chunk = self.pieces[self.index]
        if is_literal:
            self.index += 1
            self.pos = 0
            return "literal", chunk
        char = chunk[self.pos : self.pos + 1]
        if char in (b"(", b")"):
            self.pos += 1
            return char.decode(), char
        if char == b'"':
            return "string", self._quoted(chunk)
        return "atom", self._atom(chunk)

    def _quoted(self, chunk: bytes) -> bytes:
        out = bytearray()
        self.pos += 1
        while self.pos < len(chunk):
            char = chunk[self.pos : self.pos + 1]
            if char == b"\\" and self.pos + 1 < len(chunk):
                out += chunk[self.pos + 1 : self.pos + 2]
                self.pos += 2
                continue
            self.pos += 1
            if char == b'"':
                break
            out += char
        return bytes(out)

    def _atom(self, chunk: bytes) -> bytes:
        start = self.pos
        depth = 0
        while self.pos < len(chunk):
            char = chunk[self.pos : self.pos + 1]
            if char == b"[":
                depth += 1
            elif char == b"]":
                depth = max(depth - 1, 0)
            elif depth == 0 and char in (b" ", b"(", b")", b"\r", b"\n"):
                break
            self.pos += 1
        return chunk[start : self.pos]


def _pieces(item: object) -> list[tuple[bool, bytes]]:
    """Split one imaplib2 data item into text and literal pieces (dropping the ``{n}`` markers)."""
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], bytes) and isinstance(item[1], bytes):
        head = _LITERAL_AT_END.sub(b"", item[0])
        return [(False, head), (True, item[1])]
    if isinstance(item, bytes):
        return [(False, item)]
    return []


def _parse_value(cursor: _Segments) -> FetchValue:
    kind, value = cursor.next_token()
    if kind == "(":
        items: list[FetchValue] = []
        while cursor.peek() not in (b")", None):
            items.append(_parse_value(cursor))
        cursor.next_token()
        return items
    if kind == "atom" and value.upper() == b"NIL":
        return None
    if kind in ("atom", "string", "literal"):
        return value
    return b""


def _parse_one(pieces: list[tuple[bool, bytes]]) -> FetchResponse | None:
    cursor = _Segments(pieces)
    kind, msn = cursor.next_token()
    if kind != "atom" or not msn.isdigit():
        return None
    if cursor.peek() == b"F":  # imaplib2 normally strips "FETCH"; tolerate it when present
        cursor.next_token()
    if cursor.next_token()[0] != "(":
        return None
    response = FetchResponse(int(msn))
    while cursor.peek() not in (b")", None):
        kind, name = cursor.next_token()
        if kind != "atom":
            break
        response.attributes[name.decode("ascii", "replace").upper()] = _parse_value(cursor)
    return response


def parse_fetch_data(data: Sequence[object]) -> list[FetchResponse]:
    """Parse imaplib2's FETCH data into responses; anything that does not parse is left out."""
    responses: list[FetchResponse] = []
    current: list[tuple[bool, bytes]] = []
    for item in data:
        if item is None:
            continue
        head = item[0] if isinstance(item, tuple) else item
        starts_new = isinstance(head, bytes) and head[:1].isdigit()
        if starts_new and current:
            parsed = _parse_one(current)
            if parsed is not None:
                responses.append(parsed)
            current = []
        current.extend(_pieces(item))
    if current:
        parsed = _parse_one(current)
        if parsed is not None:
            responses.append(parsed)
    return responses


class AnswerKind(str, enum.Enum):
    """What one fetch of one UID came to."""

    DELIVERED = "delivered"  # message bytes for that UID arrived
    EMPTY = "empty"  # OK, but no content for that UID
    NIL = "nil"  # the server said the content is NIL (expunged under our feet)
    REFUSED = "refused"  # NO or BAD
    DROPPED = "dropped"  # BYE / connection gone
    MISMATCH = "mismatch"  # a sequence fetch answered with another UID


@dataclass
class FetchAnswer:
    kind: AnswerKind
    content: bytes | None = None
    server_said: str = ""
    msn: int | None = None
    responses: list[FetchResponse] = field(default_factory=list)


def server_words(typ: str, data: Sequence[object]) -> str:
    """The text parts of an imaplib2 answer, after its status, as one cleaned line."""
    words = [item for item in data if isinstance(item, (bytes, str))]
    text = " ".join(w.decode("utf-8", "replace") if isinstance(w, bytes) else w for w in words)
    return clean_text(f"{typ} {text}".strip(), limit=300)


def classify_fetch(typ: str, data: Sequence[object], uid: int, *, by_sequence: bool = False) -> FetchAnswer:
    """Say what a ``(typ, data)`` FETCH result means for ``uid``.

    With ``by_sequence`` the fetch named a message sequence number and asked for UID too: content counts only
    when the UID in the same response is ``uid`` (servers have been seen to mix the mapping up).
    """
    if typ != "OK":
        return FetchAnswer(AnswerKind.REFUSED, server_said=server_words(typ, data))
    responses = parse_fetch_data(data)
    mismatch: FetchResponse | None = None
    for response in responses:
        if response.uid != uid:
            if by_sequence and response.uid is not None and response.content() is not None:
                mismatch = response
            continue
        content = response.content()
        if content is not None:
            return FetchAnswer(AnswerKind.DELIVERED, content=content, msn=response.msn, responses=responses)
        if response.has_nil_content():
            return FetchAnswer(AnswerKind.NIL, msn=response.msn, responses=responses)
    if mismatch is not None:
        return FetchAnswer(
            AnswerKind.MISMATCH,
            server_said=f"sequence fetch answered with UID {mismatch.uid}, not {uid}",
            msn=mismatch.msn,
            responses=responses,
        )
    return FetchAnswer(AnswerKind.EMPTY, responses=responses)


def locate_uid(data: Sequence[object], uid: int) -> FetchResponse | None:
    """Find the response for ``uid`` in the data of a ``UID FETCH uid (UID FLAGS)``."""
    for response in parse_fetch_data(data):
        if response.uid == uid:
            return response
    return None


def search_has_uid(data: Sequence[object], uid: int) -> bool:
    """True when the data of ``UID SEARCH UID n`` lists ``uid``."""
    for item in data:
        if isinstance(item, bytes) and str(uid).encode() in item.split():
            return True
    return False


_IMAPLIB2_COMMAND_ERROR = re.compile(r"command error: (BAD|NO) \[b?(['\"])(.*?)\2\]")


def imaplib2_error_words(text: str) -> tuple[str, str]:
    """Split imaplib2's ``"<CMD> command error: BAD [b'<words>']. Data: ..."`` into ``("BAD", "<words>")``.

    Anything else comes back as ``("", text)``: the tag and command imaplib2 appends are not server words.
    """
    match = _IMAPLIB2_COMMAND_ERROR.search(text)
    if match is None:
        return "", text
    return match.group(1), match.group(3)


def value_text(value: FetchValue) -> str:
    """Render a parsed FETCH value back to IMAP-like text (for evidence), cleaned of control characters."""
    if value is None:
        return "NIL"
    if isinstance(value, bytes):
        return clean_text(value)
    return "(" + " ".join(value_text(v) for v in value) + ")"
