"""IMAP wire syntax: tokens, quoted strings and literals, dates, flags and message sets (RFC 3501 section 9)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Union

SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
_SYSTEM_BY_LOWER = {f.lower(): f for f in SYSTEM_FLAGS}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class ProtocolError(Exception):
    """The client sent something we cannot parse; answered with BAD."""


class Atom(str):
    """An unquoted token (may contain ``[...]`` sections)."""


@dataclass(frozen=True)
class String:
    """A quoted string or a literal."""

    data: bytes
    literal: bool = False

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", errors="surrogateescape")


Token = Union[Atom, String, list["Token"]]

_LITERAL_AT_END = re.compile(rb"~?\{(\d+)(\+?)\}\r\n$")


def tokenize(data: bytes) -> list[Token]:
    """Parse one complete command (literals inline as ``{n}\\r\\n<n bytes>``) into tokens."""
    pos = 0
    stack: list[list[Token]] = [[]]
    n = len(data)
    while pos < n:
        ch = data[pos : pos + 1]
        if ch in (b" ", b"\r", b"\n"):
            pos += 1
        elif ch == b"(":
            new: list[Token] = []
            stack[-1].append(new)
            stack.append(new)
            pos += 1
        elif ch == b")":
            if len(stack) == 1:
                raise ProtocolError("unbalanced parenthesis")
            stack.pop()
            pos += 1
        elif ch == b'"':
            pos += 1
            buf = bytearray()
            while True:
                if pos >= n:
                    raise ProtocolError("unterminated quoted string")
                c = data[pos]
                if c == 0x5C and pos + 1 < n:  # backslash
                    buf.append(data[pos + 1])
                    pos += 2
                elif c == 0x22:
                    pos += 1
                    break
                else:
                    buf.append(c)
                    pos += 1
            stack[-1].append(String(bytes(buf)))
        elif ch in (b"{", b"~") and re.match(rb"~?\{\d+\+?\}\r\n", data[pos:]):
            match = re.match(rb"~?\{(\d+)\+?\}\r\n", data[pos:])
            assert match is not None
            size = int(match.group(1))
            start = pos + match.end()
            if start + size > n:
                raise ProtocolError("literal shorter than announced")
            stack[-1].append(String(data[start : start + size], literal=True))
            pos = start + size
        else:
            start = pos
            while pos < n and data[pos : pos + 1] not in (b" ", b"(", b")", b"\r", b"\n"):
                if data[pos : pos + 1] == b"[":
                    close = data.find(b"]", pos)
                    if close < 0:
                        raise ProtocolError("unterminated section")
                    pos = close + 1
                else:
                    pos += 1
            stack[-1].append(Atom(data[start:pos].decode("utf-8", errors="surrogateescape")))
    if len(stack) != 1:
        raise ProtocolError("unbalanced parenthesis")
    return stack[0]


def text_of(token: Token) -> str:
    if isinstance(token, String):
        return token.text
    if isinstance(token, Atom):
        return str(token)
    raise ProtocolError("string expected, got a list")


def quote(value: str | bytes | None) -> bytes:
    """An IMAP nstring: NIL, a quoted string, or a literal when the value needs one."""
    if value is None:
        return b"NIL"
    data = value.encode("utf-8", errors="surrogateescape") if isinstance(value, str) else value
    if len(data) > 1000 or any(b < 0x20 or b > 0x7E for b in data):
        return b"{%d}\r\n" % len(data) + data
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def literal(data: bytes) -> bytes:
    return b"{%d}\r\n" % len(data) + data


def format_internaldate(when: datetime) -> str:
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    offset = when.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return (
        f"{when.day:02d}-{_MONTHS[when.month - 1]}-{when.year:04d} "
        f"{when.hour:02d}:{when.minute:02d}:{when.second:02d} {sign}{minutes // 60:02d}{minutes % 60:02d}"
    )


def parse_internaldate(text: str) -> datetime:
    match = re.fullmatch(
        r"\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\s*", text
    )
    if not match:
        raise ProtocolError(f"bad date-time {text!r}")
    day, mon, year, hh, mm, ss, sign, oh, om = match.groups()
    months = [m.lower() for m in _MONTHS]
    if mon.lower() not in months:
        raise ProtocolError(f"bad month in {text!r}")
    offset = (int(oh) * 60 + int(om)) * (1 if sign == "+" else -1)
    tz = timezone(timedelta(minutes=offset))
    return datetime(int(year), months.index(mon.lower()) + 1, int(day), int(hh), int(mm), int(ss), tzinfo=tz)


def parse_search_date(text: str) -> date:
    match = re.fullmatch(r"(\d{1,2})-([A-Za-z]{3})-(\d{4})", text.strip())
    months = [m.lower() for m in _MONTHS]
    if not match or match.group(2).lower() not in months:
        raise ProtocolError(f"bad date {text!r}")
    return date(int(match.group(3)), months.index(match.group(2).lower()) + 1, int(match.group(1)))


def normalise_flag(flag: str) -> str:
    return _SYSTEM_BY_LOWER.get(flag.lower(), flag)


def format_flags(flags: Iterable[str]) -> str:
    system = [f for f in SYSTEM_FLAGS if f in flags]
    keywords = sorted(f for f in flags if f not in SYSTEM_FLAGS)
    return "(" + " ".join(system + keywords) + ")"


def parse_set(text: str, star: int) -> list[tuple[int, int]]:
    """``1:3,7,9:*`` -> inclusive ranges; ``*`` is ``star`` (the largest UID / the message count)."""
    if not re.fullmatch(r"(\d+|\*)(:(\d+|\*))?(,(\d+|\*)(:(\d+|\*))?)*", text):
        raise ProtocolError(f"bad message set {text!r}")
    ranges: list[tuple[int, int]] = []
    for piece in text.split(","):
        ends = [star if e == "*" else int(e) for e in piece.split(":")]
        low, high = min(ends), max(ends)
        ranges.append((low, high))
    return ranges


def in_ranges(value: int, ranges: Sequence[tuple[int, int]]) -> bool:
    return any(low <= value <= high for low, high in ranges)
