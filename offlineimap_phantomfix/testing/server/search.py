"""The SEARCH command's criteria, parsed into one predicate over (sequence number, message)."""

from __future__ import annotations

import email.utils
import re
from collections.abc import Callable, Sequence

from ..mime import header_value, parse_headers, split_message
from .model import StoredMessage
from .wire import Atom, ProtocolError, String, Token, in_ranges, normalise_flag, parse_search_date, parse_set, text_of

SearchPredicate = Callable[[int, StoredMessage], bool]

_FLAG_KEYS = {
    "ANSWERED": ("\\Answered", True),
    "DELETED": ("\\Deleted", True),
    "DRAFT": ("\\Draft", True),
    "FLAGGED": ("\\Flagged", True),
    "SEEN": ("\\Seen", True),
    "OLD": ("\\Recent", False),
    "UNANSWERED": ("\\Answered", False),
    "UNDELETED": ("\\Deleted", False),
    "UNDRAFT": ("\\Draft", False),
    "UNFLAGGED": ("\\Flagged", False),
    "UNSEEN": ("\\Seen", False),
}
_ADDRESS_KEYS = {"BCC", "CC", "FROM", "SUBJECT", "TO"}


class _SearchParser:
    def __init__(self, tokens: Sequence[Token], max_uid: int, count: int) -> None:
        self.tokens = list(tokens)
        self.pos = 0
        self.max_uid = max_uid
        self.count = count

    def parse_all(self) -> SearchPredicate:
        if self.pos < len(self.tokens) and _is_atom(self.tokens[self.pos], "CHARSET"):
            self.pos += 2
        preds = []
        while self.pos < len(self.tokens):
            preds.append(self.parse_one())
        if not preds:
            raise ProtocolError("empty search")
        return lambda msn, msg: all(p(msn, msg) for p in preds)

    def _next(self) -> Token:
        if self.pos >= len(self.tokens):
            raise ProtocolError("search criterion incomplete")
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse_one(self) -> SearchPredicate:
        token = self._next()
        if isinstance(token, list):
            sub = _SearchParser(token, self.max_uid, self.count)
            preds = [sub.parse_one()]
            while sub.pos < len(sub.tokens):
                preds.append(sub.parse_one())
            return lambda msn, msg: all(p(msn, msg) for p in preds)
        if isinstance(token, String):
            raise ProtocolError("search key expected")
        key = token.upper()
        if key == "ALL":
            return lambda msn, msg: True
        if key in ("RECENT", "NEW"):
            return lambda msn, msg: False
        if key in _FLAG_KEYS:
            flag, wanted = _FLAG_KEYS[key]
            return lambda msn, msg: (flag in msg.flags) == wanted
        if key in ("KEYWORD", "UNKEYWORD"):
            kw = normalise_flag(text_of(self._next()))
            wanted = key == "KEYWORD"
            return lambda msn, msg: (kw in msg.flags) == wanted
        if key in _ADDRESS_KEYS:
            needle = text_of(self._next()).lower()
            name = key.lower()
            return lambda msn, msg: needle in (header_value(split_message(msg.raw)[0], name) or "").lower()
        if key == "HEADER":
            name = text_of(self._next()).lower()
            needle = text_of(self._next()).lower()

            def header_pred(msn: int, msg: StoredMessage) -> bool:
                header = split_message(msg.raw)[0]
                return any(k == name and needle in v.lower() for k, v in parse_headers(header))

            return header_pred
        if key in ("BODY", "TEXT"):
            needle_b = text_of(self._next()).lower().encode("utf-8", "surrogateescape")
            whole = key == "TEXT"
            return lambda msn, msg: needle_b in (msg.raw if whole else split_message(msg.raw)[1]).lower()
        if key in ("BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"):
            day = parse_search_date(text_of(self._next()))
            sent = key.startswith("SENT")
            op = key[4:] if sent else key

            def date_pred(msn: int, msg: StoredMessage) -> bool:
                when = msg.internaldate
                if sent:
                    value = header_value(split_message(msg.raw)[0], "date")
                    try:
                        when = email.utils.parsedate_to_datetime(value) if value else when
                    except (TypeError, ValueError, IndexError):
                        pass
                d = when.date()
                return d < day if op == "BEFORE" else d == day if op == "ON" else d >= day

            return date_pred
        if key in ("LARGER", "SMALLER"):
            size_text = text_of(self._next())
            if not size_text.isdigit():
                raise ProtocolError("number expected")
            size = int(size_text)
            if key == "LARGER":
                return lambda msn, msg: len(msg.raw) > size
            return lambda msn, msg: len(msg.raw) < size
        if key == "UID":
            ranges = parse_set(text_of(self._next()), self.max_uid)
            return lambda msn, msg: in_ranges(msg.uid, ranges)
        if key == "NOT":
            inner = self.parse_one()
            return lambda msn, msg: not inner(msn, msg)
        if key == "OR":
            left = self.parse_one()
            right = self.parse_one()
            return lambda msn, msg: left(msn, msg) or right(msn, msg)
        if re.fullmatch(r"[0-9*:,]+", key):
            seq_ranges = parse_set(key, self.count)
            return lambda msn, msg: in_ranges(msn, seq_ranges)
        raise ProtocolError(f"unknown search key {key!r}")


def _is_atom(token: Token, word: str) -> bool:
    return isinstance(token, Atom) and token.upper() == word
