"""Pure: turn the raw bytes of IMAP connections into a readable, redacted session log.

``C:``/``S:`` lines, literals as size plus a short excerpt, LOGIN and AUTHENTICATE arguments replaced by
``<redacted>``, and every registered secret scrubbed from everything rendered. Bytes in, text out; no
sockets and no offlineimap here.
"""

from __future__ import annotations

import base64
import re
import threading
from typing import Callable

from offlineimap_phantomfix.sanitize import clean_text

__all__ = ["REDACTED", "ConnectionLog", "Transcript", "literal_excerpt"]

REDACTED = "<redacted>"
EXCERPT_LINES = 8
EXCERPT_BYTES = 4096
LINE_LIMIT = 400
MIN_SECRET = 3  # shorter secrets are only redacted where they are sent (scrubbing them would garble all text)

_LITERAL_MARK = re.compile(rb"\{(\d+)\+?\}\r?\n\Z")
_FIRST_WORDS = re.compile(rb"\A(\S+)(?: (\S+))?(?: (\S+))?")


# --- streams and connections ----------------------------------------------------------------------------------

class _Stream:
    """Splits one direction of one connection into lines and literals as bytes arrive in any chunks."""

    def __init__(self, on_line: Callable[[bytes, int | None], None], on_literal: Callable[[bytes, int], None]):
        self._on_line = on_line
        self._on_literal = on_literal
        self._buffer = bytearray()
        self._literal_left = 0
        self._literal_size = 0
        self._excerpt = bytearray()

    def feed(self, data: bytes) -> None:
        self._buffer += data
        while self._buffer:
            if self._literal_left > 0:
                take = min(self._literal_left, len(self._buffer))
                room = EXCERPT_BYTES - len(self._excerpt)
                if room > 0:
                    self._excerpt += self._buffer[: min(take, room)]
                del self._buffer[:take]
                self._literal_left -= take
                if self._literal_left == 0:
                    self._end_literal()
                continue
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > 1 << 20:  # a hostile endless line: show it cut, do not hoard it
                    self._on_line(bytes(self._buffer[:LINE_LIMIT]), None)
                    self._buffer.clear()
                return
            line = bytes(self._buffer[: end + 1])
            del self._buffer[: end + 1]
            match = _LITERAL_MARK.search(line)
            size = int(match.group(1)) if match else None
            self._on_line(line.rstrip(b"\r\n"), size)
            if size is not None:
                self._literal_size = size
                self._literal_left = size
                self._excerpt = bytearray()
                if size == 0:
                    self._end_literal()

    def _end_literal(self) -> None:
        self._on_literal(bytes(self._excerpt), self._literal_size)
        self._excerpt = bytearray()


def literal_excerpt(excerpt: bytes, size: int, *, max_lines: int = EXCERPT_LINES) -> list[str]:
    """Cleaned first lines of a literal (up to the end of its header block), then its size."""
    shown: list[str] = []
    lines = excerpt.replace(b"\r\n", b"\n").split(b"\n")
    for raw in lines[:max_lines]:
        if not raw.strip():
            break
        folded = raw[:1] in (b" ", b"\t")
        text = clean_text(raw, limit=120)
        shown.append(("  " if folded else "") + text)
    total = excerpt.count(b"\n") + (0 if excerpt.endswith(b"\n") else 1) if excerpt else 0
    more = "" if size <= len(excerpt) else "+"
    summary = f"[literal: {size} bytes"
    if shown:
        summary += f", first {len(shown)} of {total}{more} lines shown"
    return [f"| {line}" for line in shown] + [summary + "]"]


class ConnectionLog:
    """What one connection said, both directions, feeding the shared transcript."""

    def __init__(self, transcript: Transcript, number: int) -> None:
        self.transcript = transcript
        self.number = number
        self._client = _Stream(self._client_line, self._client_literal)
        self._server = _Stream(self._server_line, self._server_literal)
        self._client_in_command = False  # inside a command that continues after a literal
        self._client_swallow = False  # the rest of this command is redacted (LOGIN)
        self._auth_tag: bytes | None = None  # AUTHENTICATE in progress: client lines are credentials

    def client(self, data: bytes) -> None:
        with self.transcript.lock:
            self._client.feed(data)

    def server(self, data: bytes) -> None:
        with self.transcript.lock:
            self._server.feed(data)

    # client side
    def _client_line(self, line: bytes, literal: int | None) -> None:
        t = self.transcript
        if self._client_in_command:
            if not self._client_swallow:
                t._add("C:", clean_text(line, limit=LINE_LIMIT))
        elif self._auth_tag is not None:
            t._add("C:", REDACTED)
        else:
            self._client_swallow = False
            match = _FIRST_WORDS.match(line)
            tag, command, mechanism = match.groups() if match else (None, None, None)
            name = (command or b"").upper()
            shown_tag = t._tag(tag) if tag is not None else ""
            if name == b"LOGIN":
                t._add("C:", f"{shown_tag} LOGIN {REDACTED} {REDACTED}")
                self._client_swallow = True
            elif name == b"AUTHENTICATE":
                shown = f"{shown_tag} AUTHENTICATE {clean_text(mechanism or b'', limit=40)}".rstrip()
                if len(line.split()) > 3 or literal is not None:
                    shown += f" {REDACTED}"  # SASL initial response
                t._add("C:", shown)
                self._client_swallow = True
                self._auth_tag = tag
            else:
                rest = line[len(tag):] if tag is not None else line
                t._add("C:", f"{shown_tag} {clean_text(rest, limit=LINE_LIMIT)}".strip())
                if tag is not None:
                    t.sent[shown_tag] = [clean_text(rest, limit=LINE_LIMIT).strip(), ""]
        self._client_in_command = literal is not None
        if literal is None and self._auth_tag is None:
            self._client_swallow = False

    def _client_literal(self, excerpt: bytes, size: int) -> None:
        if self._client_swallow or self._auth_tag is not None:
            return
        for line in literal_excerpt(excerpt, size):
            self.transcript._add("C:", "  " + line)

    # server side
    def _server_line(self, line: bytes, literal: int | None) -> None:
        t = self.transcript
        match = _FIRST_WORDS.match(line)
        first = match.group(1) if match else b""
        if first and first not in (b"*", b"+") and first in t._tags:
            status = (match.group(2) or b"").upper() if match else b""
            rest = line[len(first):]
            t._add("S:", f"{t._tags[first]} {clean_text(rest, limit=LINE_LIMIT)}".rstrip())
            if t._tags[first] in t.sent:
                t.sent[t._tags[first]][1] = status.decode("ascii", "replace")
            if self._auth_tag is not None and first == self._auth_tag:
                self._auth_tag = None
                self._client_swallow = False
            if status in (b"NO", b"BAD"):
                t._last_failure[self.number] = clean_text(rest, limit=LINE_LIMIT).split(" ", 1)[-1]
        else:
            t._add("S:", clean_text(line, limit=LINE_LIMIT))
            if first == b"*" and match and (match.group(2) or b"").upper() == b"BYE":
                t.byes.append(clean_text(line[len(b"* BYE"):], limit=LINE_LIMIT))

    def _server_literal(self, excerpt: bytes, size: int) -> None:
        for line in literal_excerpt(excerpt, size):
            self.transcript._add("S:", "  " + line)


class Transcript:
    """A redacted log of IMAP sessions: ``C:`` client lines, ``S:`` server lines, ``#`` notes.

    Feed it raw bytes per connection (:meth:`connection`), add notes, and :meth:`render` it. Tags are renumbered
    ``a001``, ``a002``, ... in the order the commands were sent, across all connections. LOGIN arguments and
    everything sent during AUTHENTICATE are never recorded; :meth:`add_secret` values are also scrubbed from
    every line (server text and notes included) when rendering. Thread-safe.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._lines: list[str] = []
        self._tags: dict[bytes, str] = {}
        self._secrets: set[str] = set()
        self._connections = 0
        self._last_failure: dict[int, str] = {}
        self.byes: list[str] = []
        self.sent: dict[str, list[str]] = {}  # renumbered tag -> [command (no credentials), tagged status or '']

    # feeding
    def connection(self, description: str = "") -> ConnectionLog:
        with self.lock:
            self._connections += 1
            number = self._connections
            self.note(f"connection {number}" + (f": {description}" if description else ""))
            return ConnectionLog(self, number)

    def note(self, text: str) -> None:
        with self.lock:
            for line in str(text).splitlines() or [""]:
                self._lines.append("# " + clean_text(line, limit=LINE_LIMIT) if line else "#")

    def add_secret(self, secret: str | None, *, user: str | None = None) -> None:
        """Scrub ``secret`` (and the forms it is sent in) from everything rendered."""
        if not secret:
            return
        with self.lock:
            variants = {secret, secret.replace("\\", "\\\\").replace('"', '\\"')}
            for authz in ("", user or ""):
                blob = f"{authz}\0{user or ''}\0{secret}".encode()
                variants.add(base64.b64encode(blob).decode("ascii"))
            self._secrets.update(v for v in variants if len(v) >= MIN_SECRET)

    def _tag(self, tag: bytes) -> str:
        if tag not in self._tags:
            self._tags[tag] = f"a{len(self._tags) + 1:03d}"
        return self._tags[tag]

    def _add(self, prefix: str, text: str) -> None:
        self._lines.append(f"{prefix} {text}".rstrip())

    # reading
    def answered(self, command: str) -> str | None:
        """The tagged status (``OK``, ``NO``, ``BAD``) of the last command sent that starts with ``command``:
        ``''`` when it was sent and not answered yet, None when it was never sent."""
        with self.lock:
            found = [status for text, status in self.sent.values() if text.upper().startswith(command.upper())]
            return found[-1] if found else None

    def progress(self) -> tuple[int, str]:
        """How many lines so far, and the last command sent (scrubbed; '' before the first), for progress."""
        with self.lock:
            sent = [line for line in self._lines if line.startswith("C: a")]
            return len(self._lines), self.scrub(sent[-1][3:]) if sent else ""

    def last_failure(self) -> str:
        """The text of the most recent tagged NO/BAD (scrubbed), or ''."""
        with self.lock:
            if not self._last_failure:
                return ""
            return self.scrub(self._last_failure[max(self._last_failure)])

    def failures(self) -> list[str]:
        with self.lock:
            return [self.scrub(self._last_failure[key]) for key in sorted(self._last_failure)]

    def scrub(self, text: str) -> str:
        with self.lock:
            for secret in sorted(self._secrets, key=len, reverse=True):
                text = text.replace(secret, REDACTED)
        return text

    def render(self) -> str:
        with self.lock:
            return "\n".join(self.scrub(line) for line in self._lines) + ("\n" if self._lines else "")
