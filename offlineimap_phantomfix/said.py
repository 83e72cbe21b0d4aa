"""Pure: the words a record's "server said" shows, which are what the server answered to the fetches of the
message's content (the plain fetch, then the ladder's by sequence number and by UID), in order, each once.

Answers that carry no words of their own get a short name (``no data``, ``substitute notice``); the answers
to the ladder's metadata and header fetches are evidence of another kind and never appear here.
"""

from __future__ import annotations

import ast
import re

from offlineimap_phantomfix.placeholder import substitute_for
from offlineimap_phantomfix.responses import AnswerKind, FetchAnswer
from offlineimap_phantomfix.sanitize import clean_text

NO_DATA = "no data"
SUBSTITUTE_NOTICE = "substitute notice"
NIL_CONTENT = "NIL"
DROPPED = "connection dropped"
_LIMIT = 300

# offlineimap's own lines for a failed fetch (offlineimap/folder/IMAP.py, _fetch_from_imap)
_NO_MESSAGE = "does not have a message with UID"
_RESPONDED = re.compile(r"Server responded: ([A-Z]+) (.*)\Z", re.DOTALL)
_BYTES_LITERAL = re.compile(r"""b'(?:[^'\\]|\\.)*'|b"(?:[^"\\]|\\.)*\"""")
_ABORT = re.compile(r"\A(?:\w+: )?(?:\w+ => )?(.*?), while fetching msg .*\Z", re.DOTALL)
_TERMINATED = "connection terminated"  # imaplib2's abort text when the server just closed the connection


def dropped_words(text: str = "") -> str:
    """A closed connection, with the server's BYE (or the error) when known."""
    return f"{DROPPED} ({text})" if text else DROPPED


def answer_words(answer: FetchAnswer, uid: int) -> str:
    """What the server said to one fetch of the content of ``uid``: its NO or BAD text, ``no data``,
    ``substitute notice``, its BYE; nothing when it delivered bytes of a message."""
    if answer.kind is AnswerKind.EMPTY:
        return NO_DATA
    if answer.kind is AnswerKind.NIL:
        return NIL_CONTENT
    if answer.kind is AnswerKind.DELIVERED:
        substitute = answer.content is not None and substitute_for(answer.content, uid) is not None
        return SUBSTITUTE_NOTICE if substitute else ""
    if answer.kind is AnswerKind.DROPPED:
        return dropped_words(answer.server_said)
    return answer.server_said  # refused (NO/BAD), or another message's content at its sequence number


def offlineimap_failure_words(text: str, *, dropped: bool = False) -> str:
    """The server's answer to offlineimap's own fetch, read back from the error offlineimap raised for it:
    ``no data`` for "does not have a message", ``NO <words>`` for "Server responded: NO [b'<words>']", the
    dropped connection with its words. An error of another form is kept as it is."""
    if dropped:
        abort = _ABORT.match(text)
        words = abort.group(1).strip() if abort is not None else ""
        return dropped_words("" if words == _TERMINATED else clean_text(words, limit=_LIMIT))
    if _NO_MESSAGE in text:
        return NO_DATA
    responded = _RESPONDED.search(text)
    if responded is None:
        return clean_text(text, limit=_LIMIT)
    status = responded.group(1)
    if status not in ("NO", "BAD"):
        return f"{status}, but no message offlineimap could use"
    words = []
    for literal in _BYTES_LITERAL.findall(responded.group(2)):
        try:
            value = ast.literal_eval(literal)
        except (ValueError, SyntaxError):
            continue
        words.append(value.decode("utf-8", "replace"))
    return clean_text(" ".join([status, *words]), limit=_LIMIT)


def add_words(said: list[str], text: str) -> None:
    """Add ``text`` to ``said`` once, cleaned; a bare "connection dropped" gives way to one with the
    server's words, where it stands."""
    text = clean_text(text, limit=_LIMIT)
    if not text or text in said:
        return
    if text == DROPPED and any(old.startswith(f"{DROPPED} (") for old in said):
        return
    if text.startswith(f"{DROPPED} (") and DROPPED in said:
        said[said.index(DROPPED)] = text
        return
    said.append(text)
